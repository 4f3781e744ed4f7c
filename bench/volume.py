"""End to end at volume: payments created, paid and confirmed through the local stack with gateway faults.

For each size, a fresh local stack (moto server, the Pay1st sandbox, the functions in their own worker
processes, the HTTP API) and the sandbox injecting faults: 10% of gateway API requests answer 5xx, 10% of
webhooks are dropped and 10% delivered twice. Then, as the parties would:

1. the partner's backend creates the payments (``POST /payments``, 4 at a time, retrying as a backend
   would, after one uncounted create per thread has warmed the containers);
2. every customer pays (the sandbox settles the payment and delivers its signed webhook to our route);
3. the status poller runs (scheduled every minute in AWS; here back to back) until no payment is open:
   it reconciles the payments whose webhook was lost or whose confirmation met a gateway 5xx.

Prints, per size: payments paid and confirmed SUCCESSFUL, duplicates (more than one "Payment Succeeded"
per payment) and lost ones (paid, but not SUCCESSFUL or never announced) - both must be 0; the AWS calls
per payment (every request the moto server answers, by operation, the benchmark's own excluded) and the
gateway calls per payment (the sandbox's API counters): both flat from one size to the next when nothing
grows with volume; and the p95 of each step (each function invocation as the local stack timed it, and
the partner's create as its client saw it).

Local settings (environment of every function, as ``sam --env-vars``): the poller considers payments
once due, 1 s after creation (``CHECK_SCHEDULE_SECONDS``, 60 s first in the template) and checks up to 500 a run, and the status-query
interval is 2 s (15 in the template), so the run takes seconds instead of the minutes those real delays
would add; the calls made are the same.
Run: ``.venv/bin/python bench/volume.py [size ...]`` (from the repository root; default 100 1000, the issue's two sizes).
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO / "local"), str(REPO / "layers" / "pay1st"), str(REPO / "clients" / "python" / "src")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

# About 0.18 s per payment end to end on the quiet 2-core development machine, 0.5 s loaded (the sandbox's
# webhook retries and the functions' workers share it): 1,000 take about 3-3.5 minutes quiet, 8-12 loaded. 100 and
# 1,000 side by side show whether the calls per payment stay flat; pass other sizes to see more (or fewer).
DEFAULT_SIZES = (100, 1000)
FAULTS = {
    "rate_5xx": {"*": 0.1},
    "server_error_status": 503,
    "webhook_drop_rate": 0.1,
    "webhook_duplicate_rate": 0.1,
    "seed": 14,
}
LOCAL_SETTINGS = {
    "CHECK_SCHEDULE_SECONDS": "1",
    "POLL_BATCH_SIZE": "500",
    "STATUS_QUERY_MIN_INTERVAL_SECONDS": "2",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
CREATE_THREADS = 4
CREATE_ROUNDS = 10
MAX_POLL_RUNS = 12
POLLER = "StatusPollerFunction"
# The calls that grow with payments (the index queries are the poller's, a fixed cost per run).
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "PutEvents"})


class MotoCalls:
    """Counts the AWS API requests the moto server answers (its WSGI app), by ``service:Operation``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.counting = False
        self._lock = threading.Lock()

    def install(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        original = DomainDispatcherApplication.__call__
        calls = self

        def counted(app: Any, environ: dict[str, Any], start_response: Any) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if calls.counting and target:
                service, _, operation = target.rpartition(".")
                with calls._lock:
                    calls.calls[f"{service.split('_')[0]}:{operation}"] += 1
            return original(app, environ, start_response)

        DomainDispatcherApplication.__call__ = counted  # type: ignore[method-assign,assignment]

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.counting = False
        try:
            yield
        finally:
            self.counting = True


class Timings:
    """Each function invocation's wall time, by function (the local stack's Invoke, timed around it)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def install(self) -> None:
        from local_stack.stack import LocalStack

        original = LocalStack.invoke
        timings = self

        def timed(stack: Any, function_id: str, event: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(stack, function_id, event)
            finally:
                with timings._lock:
                    timings.seconds[function_id].append(time.perf_counter() - started)

        LocalStack.invoke = timed  # type: ignore[method-assign,assignment]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else float("nan")


def gateway_requests(stack: Any) -> Counter[str]:
    """The sandbox's per-route counters of the gateway API (its control routes are not counted there)."""
    return Counter(stack.sandbox.control.counters()["requests"])


def run(size: int, moto_calls: MotoCalls, timings: Timings) -> dict[str, Any]:
    from local_stack.partner import partner_client
    from local_stack.stack import LocalStack, StackOptions
    from pay1st_partner_client import Pay1stPartnerError, Product

    options = StackOptions(
        api_port=0,
        moto_port=0,
        sandbox_port=0,
        event_sources=False,
        prewarm=True,
        env_vars={"Parameters": LOCAL_SETTINGS},
    )
    timings.seconds.clear()
    with LocalStack(options) as stack:
        control = stack.sandbox.control  # type: ignore[union-attr]
        client = partner_client(stack, max_attempts=5)
        control.set_faults(**FAULTS)
        moto_calls.counting = True
        run_id = uuid.uuid4().hex[:6]
        create_seconds: list[float] = []
        references: dict[str, str] = {}
        failed_creates = 0

        def create(partner_reference: str) -> str | None:
            """The partner's create, retried as its backend would (the same partnerReference: idempotent)."""
            nonlocal failed_creates
            for attempt in range(CREATE_ROUNDS):
                began = time.perf_counter()
                try:
                    created = client.create_payment(
                        partner_reference,
                        amount="250.50",
                        currency_code="ZAR",
                        country_code="ZA",
                        products=[Product("500 Gems", "GEM-500", "250.50", 1, currency_code="ZAR")],
                    )
                except Pay1stPartnerError as exc:
                    if attempt == CREATE_ROUNDS - 1:
                        failed_creates += 1
                        print(f"  {partner_reference}: create failed for good: {exc}", flush=True)
                        return None
                    time.sleep(1.0)
                    continue
                create_seconds.append(time.perf_counter() - began)
                return created.reference
            return None

        # Warm-up, not counted: a few payments created and paid start the containers a steady state has warm.
        with moto_calls.paused(), ThreadPoolExecutor(CREATE_THREADS) as pool:
            warm = list(pool.map(create, [f"warm-{run_id}-{i}" for i in range(CREATE_THREADS)]))
            list(pool.map(lambda reference: control.settle(reference, "pay"), [r for r in warm if r]))
            control.flush_webhooks(timeout=300)
            time.sleep(float(LOCAL_SETTINGS["STATUS_QUERY_MIN_INTERVAL_SECONDS"]))
            stack.run_schedule(POLLER)  # what the warm-up's faults left open
        create_seconds.clear()
        gateway_before = gateway_requests(stack)
        timings.seconds.clear()
        moto_calls.calls.clear()
        started = time.perf_counter()

        def create_one(index: int) -> None:
            partner_reference = f"vol-{run_id}-{index:05d}"
            reference = create(partner_reference)
            if reference:
                references[partner_reference] = reference

        with ThreadPoolExecutor(CREATE_THREADS) as pool:
            list(pool.map(create_one, range(size)))
        created_at = time.perf_counter()

        # Every customer pays; the sandbox delivers the webhooks (dropping, duplicating, retrying on 5xx).
        with moto_calls.paused(), ThreadPoolExecutor(CREATE_THREADS) as pool:
            list(pool.map(lambda reference: control.settle(reference, "pay"), references.values()))
        control.flush_webhooks(timeout=300)
        paid_at = time.perf_counter()

        # The poller reconciles what the webhooks left open, run after run, until nothing is open.
        time.sleep(float(LOCAL_SETTINGS["STATUS_QUERY_MIN_INTERVAL_SECONDS"]))
        poll_runs = 0
        while poll_runs < MAX_POLL_RUNS:
            poll_runs += 1
            result = stack.run_schedule(POLLER)
            report = result.result if isinstance(result.result, dict) else {}
            if not report.get("checked") and not report.get("republished"):
                break
            time.sleep(float(LOCAL_SETTINGS["STATUS_QUERY_MIN_INTERVAL_SECONDS"]))
        moto_calls.counting = False
        finished = time.perf_counter()
        aws = Counter(moto_calls.calls)
        gateway = gateway_requests(stack) - gateway_before

        # What the partner's systems see: the payments as stored, and the events on the bus.
        dynamodb = stack.client("dynamodb")
        table = stack.provisioned.refs["PaymentsTable"]
        statuses: dict[str, str] = {}
        for partner_reference in references:
            item = dynamodb.get_item(
                TableName=table, Key={"partnerReference": {"S": partner_reference}}, ConsistentRead=True
            )["Item"]
            statuses[partner_reference] = item["status"]["S"]
        succeeded: Counter[str] = Counter()
        for event in stack.published_events(wait_seconds=2):
            detail = event.get("detail", {})
            if (
                event.get("detail-type") == "Payment Succeeded"
                and detail.get("partnerReference") in references
            ):
                succeeded[detail["partnerReference"]] += 1
        confirmed = sum(1 for status in statuses.values() if status == "SUCCESSFUL")
        lost = sum(1 for ref in references if statuses[ref] != "SUCCESSFUL" or succeeded[ref] == 0)
        return {
            "size": size,
            "created": len(references),
            "failed_creates": failed_creates,
            "confirmed": confirmed,
            "duplicates": sum(max(0, n - 1) for n in succeeded.values()),
            "lost": lost,
            "aws": aws,
            "gateway": gateway,
            "poll_runs": poll_runs,
            "seconds": {
                "create": created_at - started,
                "pay": paid_at - created_at,
                "reconcile": finished - paid_at,
                "total": finished - started,
            },
            "p95": {
                "partner create (client)": p95(create_seconds),
                **{f"{name} (invoke)": p95(values) for name, values in sorted(timings.seconds.items())},
            },
            "invocations": {name: len(values) for name, values in sorted(timings.seconds.items())},
        }


def report(figures: dict[str, Any]) -> None:
    size, created = figures["size"], max(1, figures["created"])
    aws, gateway = figures["aws"], figures["gateway"]
    seconds = figures["seconds"]
    print(
        f"\n{size} payments: {figures['created']} created ({figures['failed_creates']} creates failed for good), "
        f"{figures['confirmed']} paid and confirmed SUCCESSFUL; duplicates {figures['duplicates']}, "
        f"lost {figures['lost']}; {figures['poll_runs']} poller runs"
    )
    print(
        f"  time: create {seconds['create']:.1f} s, pay + webhooks {seconds['pay']:.1f} s, "
        f"reconcile {seconds['reconcile']:.1f} s, total {seconds['total']:.1f} s"
    )
    print(f"  AWS calls per payment: {sum(aws.values()) / created:.2f}")
    queries = sum(n for name, n in aws.items() if name.endswith(":Query"))
    writes = sum(n for name, n in aws.items() if name.split(":")[1] in WRITES)
    print(
        f"    of which writes and PutEvents {writes / created:.2f} per payment; index queries {queries} "
        f"({queries / max(1, figures['poll_runs']):.0f} per poller run, whatever the backlog)"
    )
    for name, n in sorted(aws.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {name:<36} {n / created:6.2f}  ({n})")
    print(f"  gateway calls per payment: {sum(gateway.values()) / created:.2f}")
    for name, n in sorted(gateway.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {name:<36} {n / created:6.2f}  ({n})")
    print("  p95 per step:")
    for name, value in figures["p95"].items():
        count = figures["invocations"].get(name.split(" ")[0], "")
        print(f"    {name:<36} {value * 1000:7.0f} ms" + (f"  ({count} invocations)" if count else ""))


def main(argv: list[str]) -> int:
    import logging

    logging.disable(logging.WARNING)
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    sizes = [int(arg) for arg in argv] or list(DEFAULT_SIZES)
    print(
        "End to end at volume through the local stack, gateway faults "
        f"{json.dumps({k: v for k, v in FAULTS.items() if k != 'seed'})}; sizes {sizes} "
        "(1,000 take about 3-3.5 minutes on a quiet 2-core machine, 8-12 loaded; `bench/volume.py 100` runs one size)"
    )
    moto_calls, timings = MotoCalls(), Timings()
    moto_calls.install()
    timings.install()
    results = []
    for size in sizes:
        figures = run(size, moto_calls, timings)
        report(figures)
        results.append(figures)
    if len(results) > 1:
        per = [sum(r["aws"].values()) / max(1, r["created"]) for r in results]
        gw = [sum(r["gateway"].values()) / max(1, r["created"]) for r in results]
        print(
            f"\nflat? AWS calls per payment {' -> '.join(f'{v:.2f}' for v in per)}; "
            f"gateway calls per payment {' -> '.join(f'{v:.2f}' for v in gw)}"
        )
    bad = [r for r in results if r["duplicates"] or r["lost"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
