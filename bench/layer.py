"""Benchmark of the Pay1st layer: token requests per 1,000 creates, and the import cost of pay1st.client.

Prints:
1. token requests (§2 new + §3 refresh) made while 8 threads send 1,000 `create_payment` calls through
   one client to a loopback gateway (its own tiny server: no dependency on the sandbox) - once in
   real time, and once with a simulated clock that moves 1.2 s per call (1,200 s, four 5-minute token
   windows) to show the per-window rate when tokens actually age;
2. the import time of `pay1st.client` against `import urllib3`, each the median of fresh interpreters
   measured in the same run, and their ratio. Both are measured under the same bytecode conditions:
   a private ``PYTHONPYCACHEPREFIX`` (so an inherited ``PYTHONDONTWRITEBYTECODE`` or a stale
   ``__pycache__`` cannot make one side compile from source while the other loads bytecode), warmed
   by importing each once, then the runs alternate urllib3 / pay1st.client (order swapped every round).

Run: `.venv/bin/python bench/layer.py` (from the repository root).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LAYER = REPO / "layers" / "pay1st"
sys.path.insert(0, str(LAYER))

from pay1st.client import ClientConfig, Credentials, Pay1stClient  # noqa: E402 - needs the path above
from pay1st.models import PaymentRequest, Product  # noqa: E402
from pay1st.tokens import InMemoryTokenStore  # noqa: E402

CALLS = 1_000
THREADS = 8
SIMULATED_SECONDS_PER_CALL = 1.2
WINDOW = 300.0
IMPORT_RUNS = 11


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class Gateway:
    """Just enough of the gateway: token, refresh and create."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    gateway.counts[self.path] += 1
                    number = gateway.counts[self.path]
                if self.path in ("/api/pay1st/auth/token", "/api/pay1st/auth/refresh"):
                    reply = {"role": "API_USER", "accessToken": f"a{number}", "refreshToken": f"r{number}"}
                    status = 200
                elif self.path == "/api/pay1st/payments/create":
                    sent = json.loads(body)
                    reply = {
                        key: sent[key]
                        for key in ("partnerReference", "countryCode", "currencyCode", "amount")
                    }
                    reply |= {"reference": f"C-{number}-P", "status": "NEW"}
                    status = 201
                else:
                    reply, status = {"errorCode": "NOT_FOUND"}, 404
                payload = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def token_requests(self) -> tuple[int, int]:
        return self.counts["/api/pay1st/auth/token"], self.counts["/api/pay1st/auth/refresh"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SimulatedClock:
    def __init__(self) -> None:
        self.now = time.time()
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def run_creates(simulated: bool) -> tuple[int, int, float, float]:
    gateway = Gateway()
    clock = SimulatedClock()
    config = ClientConfig(base_url=gateway.base_url, pay_url=gateway.base_url, pool_maxsize=THREADS)
    credentials = Credentials("pk_bench", "sk_bench", "sk_sandbox_7Qm2vXr9Lp4Tn8Wc")
    if simulated:
        client = Pay1stClient(config, credentials, InMemoryTokenStore(clock=clock.time), clock=clock.time)
    else:
        client = Pay1stClient(config, credentials)

    def create(index: int) -> str:
        request = PaymentRequest(
            amount=Decimal("250.50"),
            country_code="ZA",
            currency_code="ZAR",
            partner_reference=f"bench-{index}",
            products=(Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
        )
        created = client.create_payment(request)
        if simulated:
            clock.tick(SIMULATED_SECONDS_PER_CALL)
        return created.status

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(create, range(CALLS)))
    elapsed = time.perf_counter() - started
    assert statuses.count("NEW") == CALLS, "every create must succeed"
    issued, refreshed = gateway.token_requests()
    gateway.stop()
    span = CALLS * SIMULATED_SECONDS_PER_CALL if simulated else elapsed
    return issued, refreshed, elapsed, span


def import_time(statement: str, pycache: str) -> float:
    """Seconds one fresh interpreter takes to run ``statement``, with bytecode cached under ``pycache``."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PYTHONPATH": str(LAYER), "PYTHONPYCACHEPREFIX": pycache}
    # Our own interpreter running our own fixed statement.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return float(result.stdout)


def import_times(runs: int) -> tuple[list[float], list[float]]:
    """(urllib3, pay1st.client) import times of ``runs`` interleaved fresh interpreters each."""
    statements = ("import urllib3", "import pay1st.client")
    times: tuple[list[float], list[float]] = ([], [])
    with tempfile.TemporaryDirectory(prefix="pay1st-bench-pycache-") as pycache:
        for statement in statements:  # compile both into the private cache (and warm the file cache)
            import_time(statement, pycache)
        for round_number in range(runs):
            order = (0, 1) if round_number % 2 == 0 else (1, 0)
            for index in order:
                times[index].append(import_time(statements[index], pycache))
    return times


def main() -> None:
    print(f"Pay1st layer benchmark ({THREADS} threads, {CALLS} create_payment calls, loopback gateway)")
    issued, refreshed, elapsed, _ = run_creates(simulated=False)
    print(
        f"  real time : {issued + refreshed} token requests per {CALLS:,} creates "
        f"({issued} new, {refreshed} refresh) in {elapsed:.2f} s = {CALLS / elapsed:.0f} creates/s"
    )
    issued, refreshed, _, span = run_creates(simulated=True)
    windows = span / WINDOW
    print(
        f"  simulated : {issued + refreshed} token requests per {CALLS:,} creates over {span:.0f} s of clock "
        f"({issued} new, {refreshed} refresh) = {(issued + refreshed) / windows:.2f} per 5-minute window "
        f"(lifetime 300 s, refreshed 60 s ahead -> one every 240 s)"
    )

    urllib3_times, client_times = import_times(IMPORT_RUNS)
    client_ms = statistics.median(client_times) * 1000
    urllib3_ms = statistics.median(urllib3_times) * 1000
    print(
        f"  import    : pay1st.client {client_ms:.1f} ms vs urllib3 {urllib3_ms:.1f} ms "
        f"(median of {IMPORT_RUNS} fresh interpreters) = {client_ms / urllib3_ms:.2f}x (target <= 1.5x)"
    )
    print(
        "  (method: both load bytecode from one private PYTHONPYCACHEPREFIX warmed once each; runs "
        "alternate urllib3 / pay1st.client; pay1st.client includes urllib3)"
    )


if __name__ == "__main__":
    main()
