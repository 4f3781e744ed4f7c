"""Run every benchmark and print its figures (`make bench`). Each script stands alone and prints its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# cold_start.py measures what ships: `make bench` runs `make build` first (.aws-sam/build).
SCRIPTS = (
    "layer.py",
    "cold_start.py --built",
    "functions.py",
    "wru.py",
    "cost.py",
    "idle_workers.py",
    "idle_memory.py --quick",
    "volume.py",
    "recon.py",
    "recon_scale.py",
    "rejected_webhooks.py",
    "demo.py",
)


def main() -> int:
    failed = []
    for line in SCRIPTS:
        name, *args = line.split()
        print(f"\n=== bench/{line} ===", flush=True)
        # Our own scripts, by fixed name.
        command = [sys.executable, str(BENCH_DIR / name), *args]
        if subprocess.run(command, cwd=BENCH_DIR.parent, check=False).returncode != 0:  # noqa: S603
            failed.append(line)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
