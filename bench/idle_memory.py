"""The local stack's own process while idle: its memory (RSS) must not grow (issue 24: 307 -> 370 MiB in 5 idle
minutes was reported).

Starts ``python -m local_stack serve`` (what ``make serve`` runs: one payment created and left open, the status
poller on its schedule, the fulfilment queue long-polled, prewarmed containers) as its own process on free ports,
waits until it is up, then samples the serving process's VmRSS (its containers are processes of their own, not
counted) every ``--every`` seconds for ``--minutes``. Prints the first and last sample, the largest, and the
growth from the first sample after start-up to the last; target: under 5 MiB. ``--schedule-interval`` runs the
poller more often than the template's minute, so a short run sees as many scheduled runs as a long one.

Run: ``.venv/bin/python bench/idle_memory.py`` (5 minutes, the poller every minute, as reported);
``--quick`` (90 s, the poller every 3 s: 30 runs), as ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MIB = 5.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--schedule-interval", type=float, default=None)
    parser.add_argument("--quick", action="store_true", help="90 s, the poller every 3 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.every, args.schedule_interval = 1.5, 10.0, 3.0
    command = [sys.executable, "-m", "local_stack", "serve", "--port", "0", "--moto-port", "0"]
    command += ["--sandbox-port", "0"]
    if args.schedule_interval:
        command += ["--schedule-interval", str(args.schedule_interval)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "local"), str(REPO / "layers" / "pay1st")]),
    }
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        # Its output to a file: a pipe nobody reads would block its log writes once full.
        serving = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            while True:  # up once it prints where
                output.seek(0)
                if "Local stack up" in output.read() or serving.poll() is not None:
                    break
                time.sleep(0.5)
            if serving.poll() is not None:
                print("the local stack did not start")
                return 1
            time.sleep(args.every)  # the first scheduled run and the queue's first poll, then idle
            samples = [_rss_mib(serving.pid)]
            started = time.monotonic()
            while time.monotonic() - started < args.minutes * 60:
                time.sleep(args.every)
                samples.append(_rss_mib(serving.pid))
        finally:
            serving.terminate()
            serving.wait(timeout=30)
    growth = samples[-1] - samples[0]
    interval = (
        f"the poller every {args.schedule_interval:g} s" if args.schedule_interval else "the template's rate"
    )
    print(
        f"local stack process idle for {args.minutes:g} minutes ({interval}, {len(samples)} samples): "
        f"RSS {samples[0]:.1f} -> {samples[-1]:.1f} MiB (largest {max(samples):.1f}), growth {growth:+.1f} MiB "
        f"(target < {TARGET_MIB:g} MiB)"
    )
    if growth >= TARGET_MIB:
        print("  target NOT met")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
