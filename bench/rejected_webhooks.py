"""Benchmark of unsigned webhooks under load: what keeping their rejection costs the caller.

A flood of distinct unsigned ``POST /webhooks/pay1st`` requests through the real handler
(``functions/webhook_intake``), from ``--containers`` worker processes at once (each one a warm Lambda
container: its first request, the cold one, is not timed), against DynamoDB emulated by a moto server on
loopback (one per process, like AWS: every write is a real HTTP round trip). Three ways of keeping the
rejection, side by side in one run, each on fresh tables:

- ``none``: no record kept (the rejection alone: verify, count, answer 401) - the floor;
- ``old``: ``webhooks/rejections.py`` as of ``OLD_COMMIT`` (read with ``git show``): every rejection claims the
  hour's budget with a conditional write, and writes its record while the budget lasts;
- ``new``: the current one: an anonymous share of the budget (250 of 1,000), and no write once the container
  found it spent, nor for a body it kept this hour.

Prints p50 and p90 of the handler's time per request (what the caller waits for, API Gateway aside) for the
first 1,000 requests (the hour's budget of kept rejections, in both versions) and for the 1,000 after them
(the flood past it), and new against old.
Run: ``.venv/bin/python bench/rejected_webhooks.py [--containers 4]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# This script's own directory must not come first on sys.path: bench/functions.py shadows the `functions` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
for entry in (str(REPO), str(REPO / "layers" / "pay1st"), str(REPO / "local")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

OLD_COMMIT = "813567a79c668b8e47f63d786af64d39d0fea8a6"  # main before the reserved share (issue 21, item 5)
OLD_MODULE = "layers/pay1st/pay1st_partner/webhooks/rejections.py"
PATHS = ("none", "old", "new")
SIGNING_KEY = "sk_bench_rejections"
ENVIRONMENT = {
    "ENVIRONMENT": "sandbox",
    "PAYMENTS_TABLE": "PaymentsTable",
    "WEBHOOK_EVENTS_TABLE": "WebhookEventsTable",
    "LOCKS_TABLE": "LocksTable",
    "CREDENTIALS_SECRET_NAME": "pay1st/credentials",
    "TOKEN_PARAMETER_NAME": "/pay1st/bench/access-token",
    "EVENT_BUS_NAME": "pay1st-events",
    "FULFILMENT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/FulfilmentQueue",
    "PAY1ST_API_BASE_URL": "http://127.0.0.1:9",  # never called: a rejection reaches no gateway
    "PAY1ST_PAY_BASE_URL": "http://127.0.0.1:9",
    "RESULT_PAGE_URL": "https://shop.example.com/payment-result",
    "PUBLIC_BASE_URL": "https://api.example.com",
    "WEBHOOK_SIGNATURE_MODE": "any",  # the template's default
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def provision(endpoint_url: str) -> None:
    """The template's tables and the credentials secret, in a moto server that was just reset."""
    from local_stack.aws import client
    from local_stack.template import dynamodb_tables, load_template

    dynamodb = client("dynamodb", endpoint_url)
    for kwargs in dynamodb_tables(load_template(REPO / "template.yaml")).values():
        dynamodb.create_table(**kwargs)
    client("secretsmanager", endpoint_url).create_secret(
        Name=ENVIRONMENT["CREDENTIALS_SECRET_NAME"], SecretString=json.dumps({"signingKey": SIGNING_KEY})
    )


def old_module(directory: Path) -> Path | None:
    """The old rejections module, written to ``directory`` (None when git cannot show it)."""
    shown = subprocess.run(  # noqa: S603 - git, a fixed commit and path of our own repository
        ["git", "show", f"{OLD_COMMIT}:{OLD_MODULE}"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if shown.returncode != 0:
        return None
    path = directory / "old_rejections.py"
    path.write_bytes(shown.stdout)
    return path


def container(
    path: str, worker: int, requests: int, endpoint_url: str, old: str | None, barrier: Any, out: Any
) -> None:
    """One warm Lambda container: ``requests`` unsigned webhooks, one after another, each one timed."""
    import importlib.util

    from local_stack.aws import FAKE_CREDENTIALS, REGION

    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")  # Powertools: "no application metrics to publish" (they are disabled)
    sys.stdout = open(os.devnull, "w")  # the metrics' EMF lines: not the figures
    os.environ.update(
        {**ENVIRONMENT, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": endpoint_url}
    )
    from pay1st_partner import runtime

    from functions.webhook_intake import app
    from tests.conftest import FakeLambdaContext, build_http_event

    if path == "none":

        class NotKept:
            def keep(self, raw_body: bytes, rejection: Any) -> bool:
                return False

        runtime.webhook_rejections = NotKept  # type: ignore[assignment]
    elif path == "old" and old is not None:
        spec = importlib.util.spec_from_file_location("old_rejections", old)
        assert spec is not None and spec.loader is not None
        module = sys.modules["old_rejections"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def old_log() -> Any:
            return module.RejectionLog(
                ENVIRONMENT["WEBHOOK_EVENTS_TABLE"], client=runtime.boto3_client("dynamodb")
            )

        runtime.webhook_rejections = old_log  # type: ignore[assignment]
    context = FakeLambdaContext(timeout_seconds=30)

    def send(body: str) -> int:
        event = build_http_event("POST", "/webhooks/pay1st", body=body, headers={})
        return int(app.lambda_handler(event, context)["statusCode"])

    send(json.dumps({"probe": f"{path}-{worker}-cold"}))  # the cold request: not timed
    barrier.wait()
    timed: list[tuple[float, float]] = []
    for n in range(requests):
        started = time.perf_counter()
        status = send(json.dumps({"probe": f"{path}-{worker}-{n}"}))
        timed.append((started, time.perf_counter() - started))
        if status != 401:
            raise SystemExit(f"expected 401, got {status}")
    out.put(timed)


def flood(path: str, containers: int, total: int, endpoint_url: str, old: str | None) -> list[float]:
    """Per-request latencies (seconds) of a flood of ``total`` requests, in the order they were sent."""
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(containers), context.Queue()
    per = -(-total // containers)
    workers = [
        context.Process(target=container, args=(path, w, per, endpoint_url, old, barrier, out))
        for w in range(containers)
    ]
    for process in workers:
        process.start()
    timed: list[tuple[float, float]] = []
    for _ in workers:
        while True:
            try:
                timed += out.get(timeout=1)
                break
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in workers):
                    for process in workers:
                        process.kill()
                    raise SystemExit(f"a container of {path} failed") from None
    for process in workers:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a container of {path} failed (exit {process.exitcode})")
    return [latency for _, latency in sorted(timed)][:total]


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=4, help="warm containers sending at once")
    args = parser.parse_args()

    from local_stack.aws import MotoServer
    from pay1st_partner.webhooks.rejections import DEFAULT_HOURLY_BUDGET

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's access log
    budget = DEFAULT_HOURLY_BUDGET  # the same in the old module

    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        old = old_module(Path(directory))
        if old is None:
            print(f"old path unavailable: git cannot show {OLD_COMMIT[:7]}:{OLD_MODULE}")
        for path in PATHS:
            if path == "old" and old is None:
                continue
            server = MotoServer()
            endpoint_url = server.start()  # a fresh emulator: the budget starts empty
            try:
                provision(endpoint_url)
                results[path] = flood(path, args.containers, 2 * budget, endpoint_url, str(old))
            finally:
                server.stop()

    print(
        f"\nUnsigned webhooks, distinct bodies, {args.containers} warm containers at once, the real handler on a"
        f" moto server (ms per request, handler time):"
    )
    print(
        f"  {'path':<6} {'first ' + str(budget) + ' p50':>15} {'p90':>8}   {'next ' + str(budget) + ' p50':>15} {'p90':>8}"
    )
    for path, latencies in results.items():
        first, after = latencies[:budget], latencies[budget:]
        print(
            f"  {path:<6} {1000 * percentile(first, 50):>15.1f} {1000 * percentile(first, 90):>8.1f}"
            f"   {1000 * percentile(after, 50):>15.1f} {1000 * percentile(after, 90):>8.1f}"
        )
    if "old" in results and "new" in results:
        ratios = []
        for label, part in ((f"first {budget}", slice(0, budget)), (f"next {budget}", slice(budget, None))):
            old_p50, new_p50 = (percentile(results[p][part], 50) for p in ("old", "new"))
            ratios.append(f"{old_p50 / new_p50:.0f}x ({label})")
        print(f"  old/new p50: {', '.join(ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
