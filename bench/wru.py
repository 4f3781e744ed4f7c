"""DynamoDB request units per step of a payment, from the real handlers (``tests/request_units.py`` says how).

Steps: create, the first signed SUCCESSFUL webhook, the same webhook redelivered, fulfilment, its sender (the SQS
consumer), and a payment whose webhook was lost, confirmed by the status poller. Each step runs warm (a first
payment warmed the caches) on moto in-process, with the Pay1st sandbox on loopback. Target: create + first
webhook + fulfilment + sender <= 12 WRU, a redelivered webhook <= 2.

Run: ``.venv/bin/python bench/wru.py`` (from the repository root); ``--json`` prints the figures as JSON too
(``bench/cost.py`` reads them).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# This script's own directory would shadow the `functions` package (bench/functions.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
for entry in (str(REPO), str(REPO / "layers" / "pay1st"), str(REPO / "local")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

PAID_AND_FULFILLED = ("create", "first webhook", "fulfilment", "sender")
TARGET_PAID_AND_FULFILLED = 12
TARGET_REDELIVERED = 2


def _bench_functions() -> Any:
    spec = importlib.util.spec_from_file_location("bench_functions", REPO / "bench" / "functions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure() -> dict[str, Any]:
    """The units of each step, as ``{step: Units}``."""
    import boto3

    from tests.conftest import build_http_event
    from tests.request_units import RequestUnitMeter

    helpers = _bench_functions()
    logging.disable(logging.DEBUG)  # the template's level is INFO: what a function logs is part of the bill
    logging.getLogger("pay1st_sandbox").setLevel(logging.ERROR)  # its webhooks go nowhere here
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    steps: dict[str, Any] = {}
    names = ("create_payment", "webhook_intake", "fulfilment", "fulfilment_sender", "status_poller")
    logs = {"POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_DISABLED": "false"}
    with helpers.handlers_world(names, logs) as (sandbox, sqs, handler, context):
        from pay1st_partner import runtime

        meter = RequestUnitMeter()

        def create(ref: str) -> dict[str, Any]:
            result = handler["create_payment"](
                build_http_event("POST", "/payments", body=helpers._create_body(ref)), context
            )
            assert result["statusCode"] == 201, result
            return dict(json.loads(result["body"]))

        def run(step: str, call: Any) -> Any:
            meter.take()
            out = sys.stdout
            written = out.tell() if hasattr(out, "tell") else 0
            started = time.perf_counter()
            result = call()
            units = meter.take()
            units.seconds = time.perf_counter() - started
            units.log_bytes = (out.tell() if hasattr(out, "tell") else 0) - written
            steps[step] = units
            return result

        def sender_event() -> dict[str, Any]:
            messages = sqs.receive_message(
                QueueUrl=os.environ["FULFILMENT_QUEUE_URL"], MaxNumberOfMessages=10
            )["Messages"]
            return helpers.sqs_event(messages)

        with meter.installed():
            # Warm-up: credentials, token, clients; a payment through every step once.
            warm = create("wru-warm")
            sandbox.control.settle(warm["reference"], "pay")
            handler["webhook_intake"](helpers._webhook_event(build_http_event, warm, "SUCCESSFUL"), context)

            payment = run("create", lambda: create("wru-paid"))
            sandbox.control.settle(payment["reference"], "pay")
            webhook = helpers._webhook_event(build_http_event, payment, "SUCCESSFUL")
            answer = run("first webhook", lambda: handler["webhook_intake"](webhook, context))
            assert answer["statusCode"] == 200, answer
            again = run("redelivered webhook", lambda: handler["webhook_intake"](webhook, context))
            assert again["statusCode"] == 200, again
            ref = payment["partnerReference"]
            fulfil = build_http_event(
                "POST",
                f"/payments/{ref}/fulfilment",
                body={"products": [{"sku": "GEM-500", "quantity": 1}]},
                path_params={"partnerReference": ref},
            )
            answer = run("fulfilment", lambda: handler["fulfilment"](fulfil, context))
            assert answer["statusCode"] == 202, answer
            event = sender_event()
            answer = run("sender", lambda: handler["fulfilment_sender"](event, context))
            assert answer == {"batchItemFailures": []}, answer

            # A payment whose webhook was lost: the poller confirms it (its run reads the due index too).
            lost = create("wru-lost")
            sandbox.control.settle(lost["reference"], "pay")
            boto3.client("dynamodb", region_name=helpers.REGION).update_item(
                TableName=os.environ["PAYMENTS_TABLE"],
                Key={"partnerReference": {"S": "wru-lost"}},
                UpdateExpression="SET nextCheckAt = :past",
                ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00.000Z"}},
            )
            meter.take()
            poll = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
            run("poller confirms a lost one", lambda: handler["status_poller"](poll, context))
            assert runtime.payments().get("wru-lost").status == "SUCCESSFUL"  # type: ignore[union-attr]
            run("poller, nothing due", lambda: handler["status_poller"](poll, context))
    return steps


def main() -> int:
    # The handlers' metrics (EMF lines on stdout) would bury the table.
    with contextlib.redirect_stdout(io.StringIO()):
        steps = measure()
    print("DynamoDB request units per step (on-demand rules; tests/request_units.py):")
    print(f"  {'step':<28} {'WRU':>4} {'RRU':>5}  where the writes go")
    for step, units in steps.items():
        print(f"  {step:<28} {units.wru:>4} {units.rru:>5.1f}  {units.where()}")
    paid = sum(steps[step].wru for step in PAID_AND_FULFILLED)
    redelivered = steps["redelivered webhook"].wru
    met = paid <= TARGET_PAID_AND_FULFILLED and redelivered <= TARGET_REDELIVERED
    print(
        f"  paid and fulfilled (create + first webhook + fulfilment + sender): {paid} WRU "
        f"(target <= {TARGET_PAID_AND_FULFILLED}); redelivered webhook {redelivered} WRU (target <= "
        f"{TARGET_REDELIVERED}): {'target met' if met else 'target NOT met'}"
    )
    if "--json" in sys.argv:
        print(json.dumps({step: {"wru": u.wru, "rru": u.rru} for step, u in steps.items()}))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
