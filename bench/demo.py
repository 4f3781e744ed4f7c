"""How long `make demo` takes after set-up: runs the demo a few times and prints each total and the median."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3
# The demo's own closing line: "OK: payment flow 2.8 s, stack start-up 1.6 s, total 5.4 s (...)".
SUMMARY = re.compile(r"payment flow ([\d.]+) s, stack start-up ([\d.]+) s, total ([\d.]+) s")


def main() -> int:
    env = {**os.environ, "PYTHONPATH": "local"}
    totals, flows, walls = [], [], []
    for run in range(1, RUNS + 1):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "local_stack", "demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        match = SUMMARY.search(result.stdout)
        if result.returncode != 0 or match is None:
            print(result.stdout[-2000:], result.stderr[-2000:], sep="\n")
            print(f"demo run {run} failed (exit {result.returncode})")
            return 1
        flow, _startup, total = (float(value) for value in match.groups())
        flows.append(flow)
        totals.append(total)
        walls.append(wall)
        print(
            f"  run {run}: payment flow {flow:.1f} s, demo total {total:.1f} s, process wall time {wall:.1f} s"
        )
    print(
        f"make demo after set-up (median of {RUNS}): {statistics.median(walls):.1f} s wall "
        f"({statistics.median(totals):.1f} s stack + flow, payment flow {statistics.median(flows):.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
