"""The local stack enforces the partner routes' authorizer: SigV4 (AWS_IAM) or a JWT from its local issuer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from local_stack.api import ApiServer, LocalApi
from local_stack.aws import REGION
from local_stack.issuer import JWKS_PATH, JwtAuthorizer, LocalIssuer
from local_stack.own_routes import OwnRoutes, exposure_warning
from local_stack.partner_auth import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, PartnerAuthorizer
from local_stack.resolver import Resolver
from local_stack.runtime import InvokeResult
from local_stack.spec import Route, jwt_authorizers
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT, load_template, parameter_defaults

from tests.local.local_kit import partner_request, signed_result_url

FORBIDDEN = {"message": "Forbidden"}
MISMATCH_START = "The request signature we calculated does not match the signature you provided."


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    key: str = LOCAL_ACCESS_KEY_ID,
    secret: str = LOCAL_SECRET_ACCESS_KEY,
    service: str = "execute-api",
    region: str = REGION,
    at: datetime | None = None,
    token: str | None = None,
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=at or datetime.now(UTC)):
        SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    return dict(request.headers.items())


def invocations(stack: LocalStack, function_id: str) -> int:
    return stack.pools[function_id].invocations


# ------------------------------------------------------------------------------- AWS_IAM on the real template
def test_an_unsigned_partner_call_is_refused_and_the_signed_one_accepted(local_stack: LocalStack) -> None:
    # Given the bundle's template (PartnerAuth=AWS_IAM) on the local stack
    http = urllib3.PoolManager(retries=False)
    url = f"{local_stack.api_url}/payment-methods?countryCode=NG"
    before = invocations(local_stack, "PaymentMethodsFunction")

    # When the partner's backend forgets to sign, Then API Gateway's 403 and the function never runs
    unsigned = http.request("GET", url)
    assert (unsigned.status, json.loads(unsigned.data)) == (403, FORBIDDEN)
    assert invocations(local_stack, "PaymentMethodsFunction") == before

    # When it signs with the local credentials, Then the function answers
    signed = http.request("GET", url, headers=sign("GET", url))
    assert signed.status == 200, signed.data
    assert json.loads(signed.data)["countryCode"] == "NG"
    assert invocations(local_stack, "PaymentMethodsFunction") == before + 1


@pytest.mark.parametrize(
    ("signing", "message_start"),
    [
        ({"secret": "not-the-local-secret"}, MISMATCH_START),
        ({"key": "AKIAUNKNOWN000000000"}, "The security token included in the request is invalid."),
        ({"service": "lambda"}, "Credential should be scoped to correct service: 'execute-api'."),
        ({"region": "us-east-1"}, "Credential should be scoped to a valid region"),
        ({"at": datetime.now(UTC) - timedelta(minutes=6)}, "Signature expired:"),
        # A session token nobody issued, signed with the right key: AWS refuses it with a long-term key
        ({"token": "FwoGZXIvYXdzEForged"}, "The security token included in the request is invalid."),
    ],
    ids=["wrong-secret", "unknown-key", "wrong-service", "wrong-region", "expired", "unissued-token"],
)
def test_a_badly_signed_partner_call_is_refused(
    local_stack: LocalStack, signing: dict[str, Any], message_start: str
) -> None:
    url = f"{local_stack.api_url}/payments/auth-check-1"
    before = invocations(local_stack, "PaymentStatusFunction")
    response = urllib3.request("GET", url, headers=sign("GET", url, **signing), retries=False)
    assert response.status == 403
    assert json.loads(response.data)["message"].startswith(message_start)
    assert invocations(local_stack, "PaymentStatusFunction") == before


def test_a_body_changed_after_signing_is_refused(local_stack: LocalStack) -> None:
    url = f"{local_stack.api_url}/payments"
    headers = sign("POST", url, b'{"partnerReference": "a"}')
    tampered = urllib3.request("POST", url, body=b'{"partnerReference": "b"}', headers=headers, retries=False)
    assert tampered.status == 403 and json.loads(tampered.data)["message"].startswith(MISMATCH_START)
    honest = urllib3.request("POST", url, body=b'{"partnerReference": "a"}', headers=headers, retries=False)
    assert (
        honest.status == 400 and json.loads(honest.data)["code"] == "invalid_request"
    )  # past the authorizer


def test_public_routes_need_no_signature(local_stack: LocalStack) -> None:
    response = urllib3.request("POST", f"{local_stack.api_url}/webhooks/pay1st", body=b"{}", retries=False)
    assert (
        response.status == 401 and json.loads(response.data)["code"] == "missing_signature"
    )  # the function's


def test_the_result_page_asks_for_the_status_with_a_signed_call(local_stack: LocalStack) -> None:
    http = urllib3.PoolManager(retries=False)
    before = invocations(local_stack, "PaymentStatusFunction")
    url = signed_result_url(local_stack, partnerReference="auth-page-1", status="NEW")
    page = http.request("GET", url)
    assert page.status == 200
    assert invocations(local_stack, "PaymentStatusFunction") == before + 1
    assert partner_request(http, "GET", f"{local_stack.api_url}/payments/auth-page-1").status == 404


# ---------------------------------------------------------------------------------- JWT, over real HTTP
ISSUER_PLACEHOLDER = "http://127.0.0.1/_local/issuer"
AUDIENCE = "pay1st-partner-api"


@pytest.fixture
def jwt_api() -> Iterator[tuple[str, LocalIssuer, list[Any]]]:
    """A JWT-guarded echo route and the local issuer's routes, served on loopback."""
    seen: list[Any] = []

    def invoke(function_id: str, event: Any) -> InvokeResult:
        seen.append(event)
        return InvokeResult(function_id, result={"statusCode": 200, "body": "{}"})

    issuer = LocalIssuer(ISSUER_PLACEHOLDER)
    route = Route("GET", "/things", "EchoFunction", "Api", "PartnerJwtAuthorizer")
    authorizer = PartnerAuthorizer(
        issuer, {("Api", "PartnerJwtAuthorizer"): JwtAuthorizer("PartnerJwtAuthorizer", "", (AUDIENCE,))}
    )
    app = LocalApi([route], invoke, authorizer=authorizer, own_routes=OwnRoutes(issuer, AUDIENCE, dict))
    server = ApiServer(app, port=0)
    issuer.url = f"{server.base_url}/_local/issuer"
    authorizer.jwt_authorizers[("Api", "PartnerJwtAuthorizer")] = JwtAuthorizer(
        "PartnerJwtAuthorizer", issuer.url, (AUDIENCE,)
    )
    server.start()
    try:
        yield server.base_url, issuer, seen
    finally:
        server.stop()


def _get(base_url: str, token: str | None) -> urllib3.BaseHTTPResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib3.request("GET", f"{base_url}/things", headers=headers, retries=False)


def test_jwt_route_takes_a_token_from_the_token_command_and_refuses_none(
    jwt_api: tuple[str, LocalIssuer, list[Any]],
) -> None:
    base_url, _, seen = jwt_api
    missing = _get(base_url, None)
    assert (missing.status, json.loads(missing.data)) == (401, {"message": "Unauthorized"})
    assert 'error="invalid_token"' in missing.headers["www-authenticate"] and seen == []

    completed = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "local_stack", "token", "--api-url", base_url, "--subject", "backend-7"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "local")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    accepted = _get(base_url, completed.stdout.strip())
    assert accepted.status == 200, accepted.data
    claims = seen[-1]["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "backend-7" and claims["aud"] == AUDIENCE


@pytest.mark.parametrize("flaw", ["foreign-key", "expired", "other-audience", "garbage"])
def test_jwt_route_refuses_a_bad_token(jwt_api: tuple[str, LocalIssuer, list[Any]], flaw: str) -> None:
    base_url, issuer, seen = jwt_api
    if flaw == "foreign-key":  # same issuer URL, another key: the JWKS does not have it
        token = LocalIssuer(issuer.url).mint(AUDIENCE)
    elif flaw == "expired":
        token = issuer.mint(AUDIENCE, lifetime=-10)
    elif flaw == "other-audience":
        token = issuer.mint("someone-else")
    else:
        token = "not.a.jwt"
    response = _get(base_url, token)
    assert (response.status, json.loads(response.data)) == (401, {"message": "Unauthorized"})
    assert seen == []


def test_the_issuer_publishes_its_key_as_jwks(jwt_api: tuple[str, LocalIssuer, list[Any]]) -> None:
    base_url, issuer, _ = jwt_api
    keys = json.loads(urllib3.request("GET", f"{base_url}{JWKS_PATH}").data)["keys"]
    assert [key["kid"] for key in keys] == [issuer.jwks()["keys"][0]["kid"]]
    assert "d" not in keys[0]  # public half only


def test_the_template_s_jwt_authorizer_checks_the_local_issuer_and_audience() -> None:
    template = load_template()
    parameters = {
        **parameter_defaults(template),
        "PartnerAuth": "JWT",
        "JwtIssuer": "http://127.0.0.1:1/_local/issuer",
        "ResultPageUrl": "http://127.0.0.1:1/_local/result",
    }
    authorizers = jwt_authorizers(template, Resolver(template, parameters, {}, {}))
    assert authorizers == {
        ("PaymentsApi", "PartnerJwtAuthorizer"): JwtAuthorizer(
            "PartnerJwtAuthorizer", "http://127.0.0.1:1/_local/issuer", ("pay1st-partner-api",)
        )
    }


# ------------------------------------------------------------------------------------- --no-auth, exposure
def test_no_auth_lets_an_unsigned_call_through_with_an_unchecked_context() -> None:
    events: list[Any] = []
    route = Route("GET", "/things", "EchoFunction", "Api", "AWS_IAM")
    app = LocalApi(
        [route],
        lambda fid, event: events.append(event) or InvokeResult(fid, result={"statusCode": 204}),
        authorizer=PartnerAuthorizer(LocalIssuer(ISSUER_PLACEHOLDER), enforce=False),
    )
    server = ApiServer(app, port=0)
    server.start()
    try:
        assert urllib3.request("GET", f"{server.base_url}/things", retries=False).status == 204
    finally:
        server.stop()
    assert events[0]["requestContext"]["authorizer"]["iam"]["accessKey"] == "ASIALOCALPARTNER"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_binds_warn_about_nothing(host: str) -> None:
    assert exposure_warning(host, "http://a", "http://s", "http://m") is None


def test_a_non_loopback_bind_names_everything_it_exposes() -> None:
    warning = exposure_warning("0.0.0.0", "http://h:3000", "http://h:8090", "http://h:5005")  # noqa: S104
    assert warning is not None
    for exposed in ("http://h:3000", "partner routes", "/_local/", "JWT issuer", "moto http://h:5005"):
        assert exposed in warning
    assert "sandbox http://h:8090 with its control API" in warning
