"""The local stack's containers after a burst and after their idle time: how many, and their memory (RSS).

Starts the stack as ``make serve`` does (one warm container per function, event sources on) with a short
idle time, sends ``POST /payments`` from 16 concurrent callers (each creates several payments, so the
concurrency is sustained), prints the containers per function and their total resident memory, then waits
(polling, with a deadline) for the idle time to pass and prints them again. The idle clock is held during
the burst (a loaded machine can take longer than the idle time), so the first snapshot shows every
container the burst left: one per concurrent request of the function called, plus the prewarmed ones.

Run: ``.venv/bin/python bench/idle_workers.py`` (from the repository root).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "local")]

import urllib3  # noqa: E402
from local_stack.stack import LocalStack, StackOptions  # noqa: E402

CONCURRENCY = 16
CREATES_PER_CALLER = 2
IDLE_SECONDS = 5.0


def _rss_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:  # exited meanwhile
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def snapshot(stack: LocalStack) -> tuple[dict[str, int], int]:
    """Containers per function (those with any) and their total RSS in bytes."""
    counts, rss = {}, 0
    for function_id, pool in stack.pools.items():
        pids = pool.pids()
        if pids:
            counts[function_id] = len(pids)
        rss += sum(_rss_bytes(pid) for pid in pids)
    return counts, rss


def _describe(counts: dict[str, int], rss: int) -> str:
    per_function = ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{sum(counts.values())} containers, {rss / 2**20:,.0f} MiB RSS ({per_function or 'none'})"


def burst(stack: LocalStack) -> tuple[int, int]:
    """(payments created, failures) by CONCURRENCY callers at once."""
    http = urllib3.PoolManager(
        maxsize=CONCURRENCY, retries=False, timeout=urllib3.Timeout(connect=5, read=60)
    )
    url = f"{stack.api_url}/payments"
    created, failed, lock = [0], [0], threading.Lock()
    start = threading.Barrier(CONCURRENCY)

    def caller() -> None:
        start.wait()
        for _ in range(CREATES_PER_CALLER):
            body = json.dumps(
                {
                    "partnerReference": f"bench-{uuid.uuid4().hex[:12]}",
                    "amount": 250,
                    "currencyCode": "ZAR",
                    "countryCode": "ZA",
                    "products": [{"title": "500 Gems", "sku": "GEM-500", "price": 250, "quantity": 1}],
                }
            ).encode()
            headers = stack.partner_headers("POST", url, body, {"Content-Type": "application/json"})
            response = http.request("POST", url, body=body, headers=headers)
            with lock:
                if response.status == 201:
                    created[0] += 1
                else:
                    failed[0] += 1

    threads = [threading.Thread(target=caller) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created[0], failed[0]


def main() -> int:
    with tempfile.TemporaryFile("w+", encoding="utf-8") as function_log:
        options = StackOptions(
            api_port=0,
            moto_port=0,
            sandbox_port=0,
            function_log=function_log,
            prewarm=True,
            worker_idle_seconds=IDLE_SECONDS,
        )
        with _quiet_stderr(), LocalStack(options) as stack:
            print(
                f"Local stack containers (worker_idle_seconds={IDLE_SECONDS:g}, prewarmed as `make serve`):"
            )
            print(f"  started          : {_describe(*snapshot(stack))}", flush=True)
            for pool in stack.pools.values():  # the idle clock is held during the burst (see above)
                pool.idle_seconds = None
            started = time.perf_counter()
            created, failed = burst(stack)
            elapsed = time.perf_counter() - started
            print(
                f"  after the burst  : {_describe(*snapshot(stack))}\n"
                f"                     ({CONCURRENCY} concurrent callers, {created} payments created, "
                f"{failed} failed, in {elapsed:.1f} s)",
                flush=True,
            )
            for pool in stack.pools.values():
                pool.idle_seconds = IDLE_SECONDS
            deadline = time.monotonic() + IDLE_SECONDS + 30
            while time.monotonic() < deadline and sum(snapshot(stack)[0].values()) > 0:
                time.sleep(0.25)
            waited = time.perf_counter() - started - elapsed
            left = sum(snapshot(stack)[0].values())
            print(f"  {waited:4.1f} s later    : {_describe(*snapshot(stack))}", flush=True)
    if failed:
        print(
            f"  ({failed} creates failed: on a loaded machine 16 cold starts at once can outlast the timeout)"
        )
    if left:
        print(f"  target NOT met: {left} containers still running after the idle time")
    return 1 if left else 0


class _quiet_stderr:
    """The servers' access logs and the functions' timeouts go to fd 2: kept out of the figures."""

    def __enter__(self) -> None:
        for name in ("werkzeug", "local_stack"):  # moto's access log, the functions' failures
            logging.getLogger(name).setLevel(logging.CRITICAL)
        sys.stderr.flush()
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)


if __name__ == "__main__":
    sys.exit(main())
