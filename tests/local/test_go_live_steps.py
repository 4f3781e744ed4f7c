"""The go-live check's gateway and webhook steps where they fail: each names what it saw and the fix.

The gateway is the Pay1st sandbox (with its fault injection), the webhook records live in a moto DynamoDB
table shaped as template.yaml's WebhookEventsTable.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from go_live import partner_steps
from go_live.context import Check, Options
from go_live.report import FAILED, PASSED
from go_live.steps import credentials_secret, gateway_refresh, gateway_token, payment_methods
from go_live.target import Target
from go_live.webhook import webhook_arrives
from local_stack.aws import provision_tables
from local_stack.template import load_template, parameter_defaults
from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st.models import PaymentRequest, Product
from pay1st_partner_client import BearerAuth, PartnerClient

from tests.conftest import REGION, SANDBOX_CREDENTIALS
from tests.loopback import serve_in_background


def target(gateway: str, secret: dict[str, str], *, dynamodb: Any = None, table: str = "") -> Target:
    return Target(
        name="test",
        local=False,
        parameters={"Environment": "sandbox", "Pay1stApiBaseUrl": gateway, "Pay1stPayBaseUrl": gateway},
        outputs={"CredentialsSecretName": "test/pay1st/credentials", "WebhookEventsTableName": table},
        read_secret=lambda: json.dumps(secret),
        dynamodb=dynamodb,
        partner_api=None,
        partner_auth_problem="not used here",
    )


def gateway_check(gateway: str, secret: dict[str, str] = SANDBOX_CREDENTIALS, **options: Any) -> Check:
    check = Check(target(gateway, secret), Options(**options), progress=io.StringIO())
    assert credentials_secret(check).status == PASSED
    return check


def test_all_gateway_steps_pass_against_the_sandbox(sandbox: Any) -> None:
    check = gateway_check(sandbox.base_url, countries=("NG", "ZA", "KE"))
    assert gateway_token(check).status == PASSED
    assert gateway_refresh(check).reason == "POST /api/pay1st/auth/refresh -> a new access token"
    methods = payment_methods(check)
    assert methods.status == PASSED and methods.reason.startswith("NG ")
    assert set(methods.details) == {"NG", "ZA", "KE"} and all(methods.details.values())


def test_wrong_api_credentials_name_the_environment_and_the_secret(sandbox: Any) -> None:
    check = gateway_check(sandbox.base_url, {**SANDBOX_CREDENTIALS, "apiSecret": "a-staging-secret"})
    outcome = gateway_token(check)
    assert outcome.status == FAILED
    assert (
        f"the gateway at {sandbox.base_url} refused the API key/secret (HTTP 401 INVALID_CREDENTIALS"
        in outcome.reason
    )
    assert outcome.fix is not None and "for Environment=sandbox in the Pay1st Console" in outcome.fix
    assert "a-staging-secret" not in outcome.reason + outcome.fix


def test_credentials_without_permission_and_an_unreachable_gateway(sandbox: Any) -> None:
    sandbox.control.set_faults(token_forbidden=True)
    forbidden = gateway_token(gateway_check(sandbox.base_url))
    assert forbidden.status == FAILED and "the credentials lack permission (HTTP 403" in forbidden.reason

    unreachable = gateway_token(gateway_check("http://127.0.0.1:9"))
    assert unreachable.reason == "token (§2): could not reach the gateway at http://127.0.0.1:9"
    assert unreachable.fix is not None and "Pay1stApiBaseUrl" in unreachable.fix


def test_a_country_without_payment_methods_fails_naming_it(sandbox: Any) -> None:
    check = gateway_check(sandbox.base_url, countries=("NG", "FR"))
    assert gateway_token(check).status == PASSED
    outcome = payment_methods(check)
    assert outcome.status == FAILED
    assert outcome.reason.endswith(": no active payment method for FR") and "FR 0 active" in outcome.reason
    assert outcome.fix is not None and "associate payment methods" in outcome.fix


def test_a_secret_that_is_not_json_or_misses_half_the_basic_auth_pair() -> None:
    garbled = Target(**{**target("http://127.0.0.1:9", {}).__dict__, "read_secret": lambda: "not json"})
    outcome = credentials_secret(Check(garbled, Options(), progress=io.StringIO()))
    assert outcome.reason == "secret test/pay1st/credentials is not JSON"
    half = {**SANDBOX_CREDENTIALS, "webhookPassword": ""}
    outcome = credentials_secret(Check(target("http://127.0.0.1:9", half), Options(), progress=io.StringIO()))
    assert outcome.status == FAILED and "only one of webhookUsername/webhookPassword is set" in outcome.reason


# ----------------------------------------------------------------------------------------- the webhook wait
@pytest.fixture
def webhook_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        template = load_template()
        refs = provision_tables(template, dynamodb, parameter_defaults(template)).refs
        yield dynamodb, refs["WebhookEventsTable"]


def paid_check(sandbox: Any, webhook_table: tuple[Any, str], *, pay: bool) -> Check:
    """A payment created at the sandbox (paid or not), and a check waiting for its webhook (none will come)."""
    dynamodb, table = webhook_table
    check = Check(
        target(sandbox.base_url, SANDBOX_CREDENTIALS, dynamodb=dynamodb, table=table),
        Options(webhook_timeout=0.5, poll_interval=0.1),
        progress=io.StringIO(),
    )
    config = ClientConfig(base_url=sandbox.base_url, pay_url=sandbox.base_url)
    check.client = Pay1stClient(
        config, Credentials("pk_sandbox_local", "sk_sandbox_local_secret", "sk_sandbox_7Qm2vXr9Lp4Tn8Wc")
    )
    request = PaymentRequest(
        amount=Decimal("10.00"),
        country_code="ZA",
        currency_code="ZAR",
        partner_reference="golive-test-1",
        products=(Product("Go-live check", "GO-LIVE-CHECK", Decimal("10.00"), 1, "ZAR"),),
    )
    created = check.client.create_payment(request)
    if pay:
        sandbox.control.settle(created.reference, "pay")
    check.payment = {"partnerReference": "golive-test-1", "reference": created.reference}
    return check


def test_no_webhook_and_an_unpaid_payment_says_nobody_paid(
    sandbox: Any, webhook_table: tuple[Any, str]
) -> None:
    outcome = webhook_arrives(paid_check(sandbox, webhook_table, pay=False))
    assert outcome.status == FAILED
    assert outcome.reason == "no webhook within 0 s; the gateway has the payment NEW: nobody paid it yet"
    assert outcome.fix is not None and "open the checkout link" in outcome.fix


def test_no_webhook_for_a_paid_payment_points_at_the_console_webhook_url(
    sandbox: Any, webhook_table: tuple[Any, str]
) -> None:
    check = paid_check(sandbox, webhook_table, pay=True)
    outcome = webhook_arrives(check)
    assert outcome.reason.endswith("the gateway has the payment SUCCESSFUL")
    assert outcome.fix is not None and outcome.fix.startswith("set the Pay1st Console's Webhook URL")


def test_an_unsigned_webhook_accepted_in_mode_off_passes_and_says_so(
    sandbox: Any, webhook_table: tuple[Any, str]
) -> None:
    check = paid_check(sandbox, webhook_table, pay=True)
    dynamodb, table = webhook_table
    dynamodb.put_item(
        TableName=table,
        Item={
            "eventId": {"S": "abc"},
            "partnerReference": {"S": "golive-test-1"},
            "outcome": {"S": "applied"},
            "reportedStatus": {"S": "SUCCESSFUL"},
            "receivedAt": {"S": "2026-01-15T10:31:02.120Z"},
        },
    )
    outcome = webhook_arrives(check)
    assert outcome.status == PASSED
    assert outcome.reason.startswith("recorded UNSIGNED (SUCCESSFUL event, outcome applied)")


# ------------------------------------------------------------------- the stack's API answering errors
class _Answers(BaseHTTPRequestHandler):
    """A partner API that answers each route with a canned (status, body): the bundle's error shapes."""

    routes: ClassVar[dict[tuple[str, str], tuple[int, dict[str, Any]]]] = {}

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        status, body = self.routes.get((self.command, path), (404, {"message": "Not Found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stack_api() -> Iterator[tuple[str, dict[tuple[str, str], tuple[int, dict[str, Any]]]]]:
    _Answers.routes = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    serve_in_background(server)
    yield f"http://127.0.0.1:{server.server_address[1]}", _Answers.routes
    server.shutdown()
    server.server_close()


def partner_check(api_url: str, **options: Any) -> Check:
    client = PartnerClient(api_url, BearerAuth("a-jwt"), max_attempts=1)
    base = target("http://127.0.0.1:9", SANDBOX_CREDENTIALS)
    partner = Target(**{**base.__dict__, "partner_api": client, "outputs": {"ApiUrl": api_url}})
    check = Check(partner, Options(poll_interval=0.05, **options), progress=io.StringIO())
    check.payment = {"partnerReference": "golive-1", "reference": "C-1-P"}
    return check


def test_partner_api_refusals_and_an_unreachable_api_say_what_to_fix(stack_api: Any) -> None:
    url, routes = stack_api
    routes[("GET", "/payment-methods")] = (403, {"message": "Forbidden"})
    refused = partner_steps.partner_api(partner_check(url))
    assert refused.reason == "GET /payment-methods?countryCode=NG -> 403: Forbidden"
    assert refused.fix is not None and "execute-api:Invoke" in refused.fix
    routes[("GET", "/payment-methods")] = (502, {"code": "gateway_unavailable", "message": "down"})
    broken = partner_steps.partner_api(partner_check(url))
    assert broken.reason.endswith("-> 502 gateway_unavailable: down")
    unreachable = partner_steps.partner_api(partner_check("http://127.0.0.1:9"))
    assert unreachable.reason == "GET /payment-methods?countryCode=NG: cannot reach http://127.0.0.1:9"


def test_create_status_and_fulfilment_failures_name_the_answer(stack_api: Any) -> None:
    url, routes = stack_api
    routes[("POST", "/payments")] = (
        422,
        {"code": "gateway_rejected", "message": "Pay1st refused: INVALID_REQUEST"},
    )
    created = partner_steps.create_payment(partner_check(url, countries=("ZA",)))
    assert created.reason == "POST /payments -> 422 gateway_rejected: Pay1st refused: INVALID_REQUEST"
    unknown = partner_steps.create_payment(partner_check(url, countries=("FR",)))
    assert (
        unknown.reason == "no test currency and amount known for FR"
        and unknown.fix == "pass --currency and --amount"
    )

    payment = {
        "partnerReference": "golive-1",
        "status": "NEW",
        "amount": "10.00",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
    }
    routes[("GET", "/payments/golive-1")] = (200, payment)
    status = partner_steps.status_confirmed(partner_check(url, status_timeout=0.2))
    assert status.status == FAILED and status.reason == "GET /payments/golive-1 -> NEW after 0 s"

    routes[("POST", "/payments/golive-1/fulfilment")] = (
        409,
        {"code": "payment_not_successful", "message": "NEW"},
    )
    refused = partner_steps.fulfilment(partner_check(url))
    assert refused.reason == "POST /payments/golive-1/fulfilment -> 409 payment_not_successful: NEW"
    routes[("POST", "/payments/golive-1/fulfilment")] = (
        202,
        {"partnerReference": "golive-1", "fulfilmentStatus": "QUEUED"},
    )
    routes[("GET", "/payments/golive-1")] = (
        200,
        {**payment, "status": "SUCCESSFUL", "fulfilment": {"status": "QUEUED"}},
    )
    stuck = partner_steps.fulfilment(partner_check(url, fulfilment_timeout=0.2))
    assert stuck.reason == "fulfilment QUEUED after 0 s" and stuck.fix is not None and "DLQ" in stuck.fix


class _Callbacks(BaseHTTPRequestHandler):
    """The callback route as deployed: 302 to the result page, with an error unless the token verifies."""

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlencode, urlsplit

        from pay1st_partner.payments.result_page import callback_key, verify_callback_token

        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        key = callback_key(None, SANDBOX_CREDENTIALS["signingKey"])
        reference = query.get("partnerReference", "")
        ok = verify_callback_token(key, reference, query.get("token"))
        shown = (
            {"partnerReference": reference, "status": "SUCCESSFUL"} if ok else {"error": "invalid_callback"}
        )
        self.send_response(302)
        self.send_header("Location", "https://shop.example/result?" + urlencode(shown))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_deployed_callback_step_sends_the_payments_token_and_fails_on_a_refused_one() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callbacks)
    serve_in_background(server)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        check = partner_check(url)
        check.target.parameters = {**check.target.parameters, "ResultPageUrl": "https://shop.example/result"}
        # Given the secret the functions read: the step computes the token they put in the callback URLs
        assert partner_steps.callback(check).status == PASSED
        # And with another Signing Key than the functions', the refusal is a failure that says why
        other = {**SANDBOX_CREDENTIALS, "signingKey": "not-the-functions-signing-key"}
        check.target.read_secret = lambda: json.dumps(other)
        refused = partner_steps.callback(check)
        assert refused.status == FAILED and "error=invalid_callback" in refused.reason
    finally:
        server.shutdown()
        server.server_close()
