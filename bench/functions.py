"""Benchmark of the Lambda functions: the AWS and gateway calls of a warm request (cold imports:
``bench/cold_start.py``).

Prints per function the AWS API calls (counted with a botocore ``before-call`` event hook on every client)
and the Pay1st gateway calls (the sandbox's own per-route counters) of one warm request - the request
after a first one has warmed the container's caches (token, credentials, clients). Targets:
create-payment 1 gateway call and no SSM/Secrets Manager reads; webhook 1 status query and at most
5 AWS calls.

AWS is moto in-process and the gateway is the Pay1st sandbox on loopback.
Run: ``.venv/bin/python bench/functions.py`` (from the repository root).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LAYER = REPO / "layers" / "pay1st"
REGION = "eu-west-1"

# This script's own directory comes first on sys.path, and its name would shadow the `functions` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
for entry in (str(REPO), str(LAYER), str(REPO / "local")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

# --- warm requests ----------------------------------------------------------------------------------------


class AwsCallCounter:
    """Counts every AWS API call made through botocore, via a ``before-call`` hook on each new client."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        counter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call", counter._hook)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    def _hook(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken


def _gateway_requests(sandbox: Any) -> Counter[str]:
    return Counter(sandbox.control.counters()["requests"])


def _setup_aws() -> tuple[Any, dict[str, str]]:
    import boto3
    from local_stack.template import dynamodb_tables, load_template

    template = load_template(REPO / "template.yaml")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for kwargs in dynamodb_tables(template).values():
        dynamodb.create_table(**kwargs)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="pay1st/credentials",
        SecretString=json.dumps(
            {
                "apiKey": "pk_sandbox_local",
                "apiSecret": "sk_sandbox_local_secret",
                "signingKey": "sk_sandbox_7Qm2vXr9Lp4Tn8Wc",
            }
        ),
    )
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="FulfilmentQueue")["QueueUrl"]
    boto3.client("events", region_name=REGION).create_event_bus(Name="pay1st-events")
    return sqs, {
        "ENVIRONMENT": "sandbox",
        "PAYMENTS_TABLE": "PaymentsTable",
        "WEBHOOK_EVENTS_TABLE": "WebhookEventsTable",
        "LOCKS_TABLE": "LocksTable",
        "CREDENTIALS_SECRET_NAME": "pay1st/credentials",
        "TOKEN_PARAMETER_NAME": "/pay1st/bench/access-token",
        "EVENT_BUS_NAME": "pay1st-events",
        "FULFILMENT_QUEUE_URL": queue_url,
        "RESULT_PAGE_URL": "https://shop.example.com/payment-result",
        "PUBLIC_BASE_URL": "https://api.example.com",
        "WEBHOOK_SIGNATURE_MODE": "required",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def _create_body(partner_reference: str) -> str:
    return json.dumps(
        {
            "partnerReference": partner_reference,
            "amount": 250,
            "currencyCode": "ZAR",
            "countryCode": "ZA",
            "products": [{"title": "500 Gems", "sku": "GEM-500", "price": 250, "quantity": 1}],
        }
    )


def _webhook_event(
    http_event: Callable[..., dict[str, Any]], payment: dict[str, Any], status: str
) -> dict[str, Any]:
    from datetime import UTC, datetime

    from pay1st.signing import format_timestamp, sign

    body = json.dumps(
        {
            "partnerId": 1,
            "partnerCode": "BENCH",
            "partnerReference": payment["partnerReference"],
            "reference": payment["reference"],
            "orderAmount": 250,
            "currencyCode": "ZAR",
            "countryCode": "ZA",
            "status": status,
        }
    )
    timestamp = format_timestamp(datetime.now(UTC))
    headers = {"X-TIMESTAMP": timestamp, "X-SIGNATURE": sign("sk_sandbox_7Qm2vXr9Lp4Tn8Wc", timestamp, body)}
    return http_event("POST", "/webhooks/pay1st", body=body, headers=headers)


@contextlib.contextmanager
def handlers_world(
    names: Sequence[str], extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[Any, Any, dict[str, Any], Any]]:
    """The functions' handlers on moto against a fresh Pay1st sandbox: (sandbox, sqs, handlers, context)."""
    import importlib

    from moto import mock_aws
    from pay1st_sandbox import SandboxConfig, SandboxServer

    from tests.conftest import FakeLambdaContext

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws(), SandboxServer(SandboxConfig(), host="127.0.0.1", port=0) as sandbox:
        sqs, env = _setup_aws()
        env.update(extra_env or {})
        env.update({"PAY1ST_API_BASE_URL": sandbox.base_url, "PAY1ST_PAY_BASE_URL": sandbox.base_url})
        os.environ.update(env)
        from pay1st_partner import runtime

        runtime.reset()
        handlers = {name: importlib.import_module(f"functions.{name}.app").lambda_handler for name in names}
        yield sandbox, sqs, handlers, FakeLambdaContext(timeout_seconds=30)


def warm_requests() -> None:
    import logging

    from tests.conftest import build_http_event

    logging.disable(logging.WARNING)
    counter = AwsCallCounter()
    counter.install()

    print("\nWarm request (after one that warmed the container): AWS API calls | gateway calls")
    names = (
        "create_payment",
        "payment_methods",
        "callback_redirect",
        "payment_status",
        "webhook_intake",
        "fulfilment",
        "fulfilment_sender",
        "status_poller",
    )
    with handlers_world(names) as (sandbox, _sqs, handlers, context):

        def measure(name: str, make_event: Callable[[], dict[str, Any]], expect: str = "") -> Any:
            handler = handlers[name]
            counter.take()
            before = _gateway_requests(sandbox)
            try:
                result = handler(make_event(), context)
            except Exception as exc:  # noqa: BLE001 - a benchmark reports a broken function and goes on
                print(f"  {name:<18} failed: {type(exc).__name__}: {exc}")
                return None
            gateway = _gateway_requests(sandbox) - before
            aws = counter.take()
            status: Any = ""
            if isinstance(result, dict):
                if "statusCode" in result:
                    status = result["statusCode"]
                elif "batchItemFailures" in result:
                    failures = result["batchItemFailures"]
                    status = f"{len(failures)} failed" if failures else "ok"
                else:
                    status = "done"
            aws_text = ", ".join(f"{k} x{v}" for k, v in sorted(aws.items())) or "none"
            gateway_text = ", ".join(f"{k} x{v}" for k, v in sorted(gateway.items())) or "none"
            print(f"  {name:<18} {status!s:>8} | AWS {sum(aws.values())}: {aws_text}")
            print(f"  {'':<18}          | gateway {sum(gateway.values())}: {gateway_text}{expect}")
            return result

        def new_ref() -> str:
            return f"bench-{uuid.uuid4().hex[:12]}"

        # Warm-up: the first create loads credentials, issues and stores a token, creates clients.
        handlers["create_payment"](
            build_http_event("POST", "/payments", body=_create_body(new_ref())), context
        )
        handlers["payment_methods"](
            build_http_event("GET", "/payment-methods", query={"countryCode": "ZA"}), context
        )
        handlers["callback_redirect"](
            build_http_event("GET", "/callbacks/success", query={"partnerReference": "x"}), context
        )

        ref = new_ref()
        created = measure(
            "create_payment",
            lambda: build_http_event("POST", "/payments", body=_create_body(ref)),
            "   (target: 1 gateway call, no SSM/Secrets Manager)",
        )
        payment = json.loads(created["body"]) if created else {"partnerReference": ref, "reference": "?"}
        measure(
            "payment_methods",
            lambda: build_http_event("GET", "/payment-methods", query={"countryCode": "ZA"}),
            "   (cached)",
        )
        measure(
            "callback_redirect",
            lambda: build_http_event("GET", "/callbacks/success", query={"partnerReference": ref}),
        )
        measure(
            "payment_status",
            lambda: build_http_event("GET", f"/payments/{ref}", path_params={"partnerReference": ref}),
        )

        sandbox.control.settle(payment["reference"], "pay")
        measure(
            "webhook_intake",
            lambda: _webhook_event(build_http_event, payment, "SUCCESSFUL"),
            "   (target: 1 status query, at most 6 AWS calls: no transaction, which bills its writes twice)",
        )
        fulfil_body = {"products": [{"sku": "GEM-500", "quantity": 1}]}
        measure(
            "fulfilment",
            lambda: build_http_event(
                "POST", f"/payments/{ref}/fulfilment", body=fulfil_body, path_params={"partnerReference": ref}
            ),
        )

        queue = os.environ["FULFILMENT_QUEUE_URL"]
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        counter.take()
        sender_event = sqs_event(messages)
        measure("fulfilment_sender", lambda: sender_event)
        measure(
            "status_poller", lambda: {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        )


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The fulfilment sender's SQS event for ``messages`` as ``receive_message`` returned them (first receipt)."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:FulfilmentQueue",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def main() -> int:
    # Cold imports are measured by bench/cold_start.py, in a Lambda-like venv rather than this dev venv.
    started = time.perf_counter()
    warm_requests()
    print(f"\n(warm-request section took {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
