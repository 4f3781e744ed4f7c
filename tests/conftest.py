"""Shared fixtures: AWS on moto built from template.yaml, the Pay1st sandbox, Lambda events and context."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import pathlib
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import urlencode

import pytest
from local_stack.aws import provision_queues, provision_tables
from local_stack.iam import Statement, allowed, function_policies, request_actions
from local_stack.resolver import PSEUDO_PARAMETERS, Resolver
from local_stack.spec import FUNCTION_TYPE
from local_stack.template import PROJECT_ROOT, load_template, parameter_defaults, resources_of_type

from tests.moto_world import Built, Clients, MotoWorld

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
STACK_NAME = "pay1st-test"  # AWS::StackName of the template as the tests resolve it
SECRET_NAME = "pay1st/credentials"
EVENT_BUS = "pay1st-events"
RESULT_PAGE_URL = "https://shop.example.com/payment-result"
PUBLIC_BASE_URL = "https://api.example.com"
# Nothing listens here until the `sandbox` fixture points the gateway URLs at a running sandbox.
NO_GATEWAY_URL = "http://127.0.0.1:9"

# The sandbox's documented local credentials (local/pay1st_sandbox/README.md).
SANDBOX_CREDENTIALS = {
    "apiKey": "pk_sandbox_local",
    "apiSecret": "sk_sandbox_local_secret",
    "signingKey": "sk_sandbox_7Qm2vXr9Lp4Tn8Wc",
    # The Basic Auth credentials the sandbox signs basic-auth webhooks with (the contract's §10 vector).
    "webhookUsername": "partner-webhooks",
    "webhookPassword": "s3cr3t-Pa55",
}


def _reset_runtime() -> None:
    """Forget cached settings, clients and parameters between tests (the functions cache them per container)."""
    if importlib.util.find_spec("pay1st_partner.runtime") is not None:
        from pay1st_partner import runtime

        runtime.reset()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


# One AWS call at a time in the test process: moto's in-process backends are not thread-safe (a query
# iterating an item while another thread updates it raises "dictionary changed size during iteration"), and
# the status poller checks payments from a thread pool. Real DynamoDB serves each request atomically; this
# gives moto the same footing. Reentrant, should moto itself call through botocore.
_MOTO_CALLS = threading.RLock()


def _no_tracer() -> None:
    sys.settrace(None)


# Under coverage (`make test`) every line runs under its tracer, measured or not, about 1.7x slower; botocore
# and moto are not measured, yet they are most of an in-process test's time. The calls run on a thread of
# their own without the tracer (the caller waits, so nothing else changes); disabling the tracer in the
# caller's own thread instead would lose the measured caller's return event and the lines after the call.
_UNTRACED = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aws-untraced", initializer=_no_tracer)


def _on_untraced_thread() -> bool:
    return threading.current_thread().name.startswith("aws-untraced")


def untraced_aws_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every botocore call of the test (to in-process moto) on the untraced thread, when coverage runs."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def untraced_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if sys.gettrace() is None or _on_untraced_thread():  # not measuring, or a call made within a call
            return original(client, operation_name, api_params)
        return _UNTRACED.submit(original, client, operation_name, api_params).result()

    monkeypatch.setattr(BaseClient, "_make_api_call", untraced_call)


class PolicyCheck:
    """Checks every AWS call a function's handler makes against the IAM policy template.yaml gives it.

    moto enforces no IAM. While installed, each botocore call made from inside ``functions/<name>/app.py``
    (found on the call stack) is evaluated against that function's statements; what they do not allow is
    kept in ``violations`` (the ``aws`` fixture fails the test with them). Calls made by the tests
    themselves are not checked.
    """

    def __init__(self, template: Mapping[str, Any], policies: Mapping[str, tuple[Statement, ...]]) -> None:
        self.policies = dict(policies)
        self.violations: list[str] = []
        self._handlers = {
            os.path.realpath(PROJECT_ROOT / str(resource["Properties"]["CodeUri"]) / "app.py"): logical_id
            for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items()
        }
        self._frames: dict[str, str | None] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call  # every client's calls pass here, whichever session made it
        check = self

        def checked_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if _on_untraced_thread():  # a call made within a call: its caller, waiting, holds the lock
                return original(client, operation_name, api_params)
            function_id = check.calling_function()
            if function_id is not None:
                check.check(function_id, client.meta.service_model.signing_name, operation_name, api_params)
            with _MOTO_CALLS:
                return original(client, operation_name, api_params)

        monkeypatch.setattr(BaseClient, "_make_api_call", checked_call)

    def calling_function(self) -> str | None:
        frame: FrameType | None = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename not in self._frames:
                self._frames[filename] = self._handlers.get(os.path.realpath(filename))
            if self._frames[filename] is not None:
                return self._frames[filename]
            frame = frame.f_back
        return None

    def check(self, function_id: str, service: str, operation: str, params: Mapping[str, Any]) -> None:
        for action, resources in request_actions(
            service, operation, params, region=REGION, account=ACCOUNT_ID
        ):
            if not allowed(self.policies.get(function_id, ()), action, resources):
                self.violations.append(f"{function_id} called {action} on {', '.join(resources)}")


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
    # template.yaml resolved against these resources, and the functions' policies checked on every call.
    resolver: Resolver | None = None
    policy_check: PolicyCheck | None = None

    @property
    def fulfilment_max_receive_count(self) -> int:
        """Receives before SQS dead-letters a fulfilment message (template.yaml's redrive policy)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.fulfilment_queue_url, AttributeNames=["RedrivePolicy"]
        )["Attributes"]
        return int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])

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


class VirtualBackoff:
    """The gateway client's backoff without the wait: ``sleep`` moves this clock on instead of the test's.

    The retry loop reads the same clock, so its deadlines and attempt timeouts see the time it slept.
    """

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(max(0.0, seconds))

    def monotonic(self) -> float:
        return time.monotonic() + sum(self.slept)


def _no_wait_gateway_client(monkeypatch: pytest.MonkeyPatch) -> VirtualBackoff:
    """Make the Pay1st client the functions build (pay1st_partner.runtime) back off on a virtual clock."""
    from pay1st import client

    clock = VirtualBackoff()

    class NoWaitPay1stClient(client.Pay1stClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("sleep", clock.sleep)
            kwargs.setdefault("monotonic", clock.monotonic)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(client, "Pay1stClient", NoWaitPay1stClient)
    return clock


def _build_world(clients: Clients) -> Built:
    """Build template.yaml's tables and queues, the credentials secret, the event bus (+ a tap) on moto."""
    template = load_template()
    parameters = {
        **parameter_defaults(template),
        "Pay1stApiBaseUrl": NO_GATEWAY_URL,
        "Pay1stPayBaseUrl": NO_GATEWAY_URL,
        "ResultPageUrl": RESULT_PAGE_URL,
        "PublicBaseUrl": PUBLIC_BASE_URL,
    }
    dynamodb, sqs, events, secrets = clients.dynamodb, clients.sqs, clients.events, clients.secrets
    # The local stack's own code creates them, from the template (keys, indexes, TTL, queue attributes,
    # redrive policy): one source of truth.
    provisioned = provision_tables(template, dynamodb, parameters)
    table_names = dict(provisioned.refs)
    provision_queues(template, sqs, parameters, provisioned)
    queue_urls = {
        key: url for (key, attribute), url in provisioned.attributes.items() if attribute == "QueueUrl"
    }

    secret_arn = secrets.create_secret(Name=SECRET_NAME, SecretString=json.dumps(SANDBOX_CREDENTIALS))["ARN"]
    provisioned.refs["Pay1stCredentialsSecret"] = secret_arn  # Ref of a secret is its ARN

    bus_arn = events.create_event_bus(Name=EVENT_BUS)["EventBusArn"]
    provisioned.refs["PaymentEventsBus"] = EVENT_BUS
    provisioned.attributes[("PaymentEventsBus", "Arn")] = bus_arn
    tap_url = sqs.create_queue(QueueName="payment-events-tap")["QueueUrl"]
    queue_urls["payment-events-tap"] = tap_url
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="tap-everything",
        EventBusName=EVENT_BUS,
        EventPattern=json.dumps({"source": [{"prefix": ""}]}),
    )
    events.put_targets(Rule="tap-everything", EventBusName=EVENT_BUS, Targets=[{"Id": "tap", "Arn": tap_arn}])

    resolver = Resolver(
        template,
        parameters,
        provisioned.refs,
        provisioned.attributes,
        pseudo={**PSEUDO_PARAMETERS, "AWS::AccountId": ACCOUNT_ID, "AWS::StackName": STACK_NAME},
    )
    variables = resolver.resolve(template["Globals"]["Function"]["Environment"]["Variables"])
    env = {name: str(value) for name, value in variables.items()}
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return Built(
        tables=table_names,
        queue_urls=queue_urls,
        secret_names=[SECRET_NAME],
        bus_names=[EVENT_BUS],
        details={
            "template": template,
            "policies": function_policies(template, resolver),
            "resolver": resolver,
            "env": env,
            "fulfilment_queue_url": provisioned.refs["FulfilmentQueue"],
            "fulfilment_dlq_url": provisioned.refs["FulfilmentDeadLetterQueue"],
            "tap_queue_url": tap_url,
        },
    )


_WORLD = MotoWorld(REGION, ACCOUNT_ID, _build_world)


# The tiers (``make test-fast`` runs the first): which one a test is in follows from what it runs on, so a new
# test is placed without anyone remembering a marker.
# - e2e: the local stack, subprocesses and the browser (tests/local);
# - integration: AWS semantics on moto (the ``aws``/``cloud`` fixtures, the handlers in tests/functions) or a
#   real HTTP server on loopback (the sandbox, the client's HTTP tests);
# - unit: everything else: the domain rules on the in-memory store, the gateway client's pure parts.
_TESTS_DIR = pathlib.Path(__file__).parent
_INTEGRATION_FIXTURES = frozenset({"aws", "cloud", "sandbox", "moto_world"})
_E2E_DIRS = ("local",)
_INTEGRATION_DIRS = ("functions", "sandbox", "ship")
# What a test module that leaves the process or the in-memory world imports (loopback servers, interpreters).
_INTEGRATION_IMPORTS = frozenset({"subprocess", "loopback", "moto", "MotoWorld", "urllib3"})


def _tier(item: pytest.Item) -> str:
    parts = pathlib.Path(str(item.fspath)).relative_to(_TESTS_DIR).parts
    if parts[0] in _E2E_DIRS or item.get_closest_marker("browser"):
        return "e2e"
    fixtures = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    on_dynamodb = callspec is not None and "dynamodb" in callspec.id  # the store contract's moto half
    module = getattr(item, "module", None)
    imported = set(vars(module)) if module is not None else set()
    if (
        parts[0] in _INTEGRATION_DIRS
        or fixtures & _INTEGRATION_FIXTURES
        or on_dynamodb
        or imported & _INTEGRATION_IMPORTS
        or item.get_closest_marker("slow")
    ):
        return "integration"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in ("unit", "integration", "e2e")):
            item.add_marker(_tier(item))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _WORLD.uses:
        reasons = ", ".join(f"{call} x{count}" for call, count in _WORLD.rebuilt_for.most_common())
        terminalreporter.write_line(
            f"moto world: {_WORLD.builds} builds for {_WORLD.uses} tests (rebuilt after: {reasons or 'nothing'})"
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """moto with template.yaml's tables and queues, the credentials secret, the event bus (+ a tap).

    The functions' environment is template.yaml's Globals resolved against these resources (the gateway and
    result page URLs are the tests'), and every AWS call a handler makes must be allowed by its policy.
    The world is built once per process and reset between tests (tests/moto_world.py): each test starts
    with no items, messages or parameters, and anything else a test changes is rebuilt for the next one.
    """
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

    with _WORLD.use(monkeypatch) as (clients, built):
        details = built.details
        env = dict(details["env"])
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        untraced_aws_calls(monkeypatch)
        policy_check = PolicyCheck(details["template"], details["policies"])
        policy_check.install(monkeypatch)  # above the untraced hop: it reads the caller's stack
        _no_wait_gateway_client(monkeypatch)
        _reset_runtime()
        try:
            yield AwsEnv(
                dynamodb=clients.dynamodb,
                sqs=clients.sqs,
                events=clients.events,
                secrets=clients.secrets,
                ssm=clients.ssm,
                tables=dict(built.tables),
                fulfilment_queue_url=details["fulfilment_queue_url"],
                fulfilment_dlq_url=details["fulfilment_dlq_url"],
                tap_queue_url=details["tap_queue_url"],
                env=env,
                resolver=details["resolver"],
                policy_check=policy_check,
            )
        finally:
            _reset_runtime()
    if policy_check.violations:
        pytest.fail(
            "AWS calls that template.yaml's policies do not allow:\n  "
            + "\n  ".join(sorted(set(policy_check.violations)))
        )


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A running Pay1st sandbox on a free loopback port; the functions' gateway URLs point at it."""
    from pay1st_sandbox import SandboxConfig, SandboxServer

    # Refunds settle 0.2 s after they are requested (2 s by default): tests wait for it, not for a real clock.
    server = SandboxServer(SandboxConfig(refund_settle_seconds=0.2), host="127.0.0.1", port=0)
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


@contextmanager
def counting_aws_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every botocore call made inside the block, as ``"service:Operation TableName"`` (the patch of the
    policy check stays underneath)."""
    from botocore.client import BaseClient

    calls: list[str] = []
    make_api_call = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counted(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        table = api_params.get("TableName", "")
        calls.append(f"{client.meta.service_model.service_name}:{operation_name} {table}".strip())
        return make_api_call(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    try:
        yield calls
    finally:
        monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
