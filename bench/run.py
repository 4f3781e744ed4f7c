"""Run every benchmark and print its figures (`make bench`). Each script stands alone and prints its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = (
    "layer.py",
    "cold_start.py",
    "functions.py",
    "wru.py",
    "cost.py",
    "idle_workers.py",
    "volume.py",
    "recon.py",
    "demo.py",
)


def main() -> int:
    failed = []
    for name in SCRIPTS:
        script = BENCH_DIR / name
        print(f"\n=== bench/{name} ===", flush=True)
        # Our own scripts, by fixed name.
        if subprocess.run([sys.executable, str(script)], cwd=BENCH_DIR.parent, check=False).returncode != 0:  # noqa: S603
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
