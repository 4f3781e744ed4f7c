"""Shared fixtures: AWS on moto built from template.yaml, the Pay1st sandbox, Lambda events and context."""

from __future__ import annotations

import base64
import importlib.util
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from local_stack.template import dynamodb_tables, load_template, time_to_live

REGION = "eu-west-1"
SECRET_NAME = "pay1st/credentials"
TOKEN_PARAMETER = "/pay1st/test/access-token"
EVENT_BUS = "pay1st-events"
RESULT_PAGE_URL = "https://shop.example.com/payment-result"
PUBLIC_BASE_URL = "https://api.example.com"

# The sandbox's documented local credentials (local/pay1st_sandbox/README.md).
SANDBOX_CREDENTIALS = {
    "apiKey": "pk_sandbox_local",
    "apiSecret": "sk_sandbox_local_secret",
    "signingKey": "sk_sandbox_7Qm2vXr9Lp4Tn8Wc",
}


def _reset_runtime() -> None:
    """Forget cached settings, clients and parameters between tests (the functions cache them per container)."""
    if importlib.util.find_spec("pay1st_partner.runtime") is not None:
        from pay1st_partner import runtime

        runtime.reset()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


@dataclass
class AwsEnv:
    """moto-backed AWS with the bundle's resources, named as the tests' environment variables say."""

    dynamodb: Any
    sqs: Any
    events: Any
    secrets: Any
    ssm: Any
    tables: dict[str, str]
    fulfilment_queue_url: str
    fulfilment_dlq_url: str
    tap_queue_url: str
    env: dict[str, str] = field(default_factory=dict)

    def published_events(self, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        """Drain the tap queue that an EventBridge rule copies every payment event into."""
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_seconds
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.tap_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            for message in batch:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.tap_queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not batch and (received or time.monotonic() >= deadline):
                return received

    def queue_messages(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive (and delete) every visible message of a queue."""
        messages: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in batch:
                messages.append(message)
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """moto with every table of template.yaml, the credentials secret, the event bus (+ a tap) and the queues."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    with mock_aws():
        template = load_template()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for kwargs in dynamodb_tables(template).values():
            dynamodb.create_table(**kwargs)
        for table, attribute in time_to_live(template).items():
            dynamodb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
            )

        secrets = boto3.client("secretsmanager", region_name=REGION)
        secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps(SANDBOX_CREDENTIALS))

        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="FulfilmentDeadLetterQueue")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName="FulfilmentQueue",
            Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
            },
        )["QueueUrl"]

        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=EVENT_BUS)
        tap_url = sqs.create_queue(QueueName="payment-events-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="tap-everything",
            EventBusName=EVENT_BUS,
            EventPattern=json.dumps({"source": [{"prefix": ""}]}),
        )
        events.put_targets(
            Rule="tap-everything", EventBusName=EVENT_BUS, Targets=[{"Id": "tap", "Arn": tap_arn}]
        )

        env = {
            "ENVIRONMENT": "sandbox",
            "PAYMENTS_TABLE": "PaymentsTable",
            "WEBHOOK_EVENTS_TABLE": "WebhookEventsTable",
            "LOCKS_TABLE": "LocksTable",
            "CREDENTIALS_SECRET_NAME": SECRET_NAME,
            "TOKEN_PARAMETER_NAME": TOKEN_PARAMETER,
            "EVENT_BUS_NAME": EVENT_BUS,
            "FULFILMENT_QUEUE_URL": queue_url,
            # Nothing listens here until the `sandbox` fixture points these at a running sandbox.
            "PAY1ST_API_BASE_URL": "http://127.0.0.1:9",
            "PAY1ST_PAY_BASE_URL": "http://127.0.0.1:9",
            "RESULT_PAGE_URL": RESULT_PAGE_URL,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "WEBHOOK_SIGNATURE_MODE": "required",
            "POWERTOOLS_SERVICE_NAME": "pay1st",
            "POWERTOOLS_METRICS_NAMESPACE": "Pay1st",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _reset_runtime()
        try:
            yield AwsEnv(
                dynamodb=dynamodb,
                sqs=sqs,
                events=events,
                secrets=secrets,
                ssm=boto3.client("ssm", region_name=REGION),
                tables={name: name for name in dynamodb_tables(template)},
                fulfilment_queue_url=queue_url,
                fulfilment_dlq_url=dlq_url,
                tap_queue_url=tap_url,
                env=env,
            )
        finally:
            _reset_runtime()


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A running Pay1st sandbox on a free loopback port; the functions' gateway URLs point at it."""
    from pay1st_sandbox import SandboxConfig, SandboxServer

    server = SandboxServer(SandboxConfig(), host="127.0.0.1", port=0)
    server.start()
    monkeypatch.setenv("PAY1ST_API_BASE_URL", server.base_url)
    monkeypatch.setenv("PAY1ST_PAY_BASE_URL", server.base_url)
    _reset_runtime()
    try:
        yield server
    finally:
        server.stop()


class FakeLambdaContext:
    """The parts of LambdaContext the handlers and Powertools read."""

    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "2026/01/15/[$LATEST]test"

    def __init__(self, timeout_seconds: float = 15.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def build_http_event(
    method: str,
    path: str,
    *,
    body: str | bytes | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    route_key: str | None = None,
    domain_name: str = "abc123.execute-api.eu-west-1.amazonaws.com",
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as `sam local generate-event apigateway http-api-proxy`."""
    all_headers = {"content-type": "application/json", "host": domain_name, "user-agent": "pytest"}
    all_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    is_base64 = False
    raw_body: str | None
    if body is None:
        raw_body = None
    elif isinstance(body, bytes):
        raw_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    elif isinstance(body, str):
        raw_body = body
    else:
        raw_body = json.dumps(body)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.10",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key or f"{method} {path}",
            "stage": stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_params:
        event["pathParameters"] = dict(path_params)
    if raw_body is not None:
        event["body"] = raw_body
    return event


@pytest.fixture
def http_event() -> Callable[..., dict[str, Any]]:
    """Builder of HTTP API v2 events: ``http_event("POST", "/payments", body={...})``."""
    return build_http_event
