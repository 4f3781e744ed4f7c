"""The go-live check's deployed-stack path, on moto: a CloudFormation stack with the template's own Parameters,
its WebhookEventsTable and the Outputs the check reads; the credentials secret as the template creates it.

The partner API is a loopback server that records what it was sent, so the signing with the caller's
credentials is seen, not assumed.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from go_live.__main__ import main
from go_live.context import Check, Options
from go_live.steps import PLACEHOLDER, credentials_secret
from go_live.target import deployed_target
from local_stack.template import load_template

from tests.loopback import serve_in_background

REGION = "eu-west-1"
SANDBOX_STACK = "pay1st-partner-sandbox"
PRODUCTION_STACK = "pay1st-partner-production"
STAGING_API = "https://api-gateway.platform.stage.carry1st.com"
STAGING_PAY = "https://pay.stage.carry1st.com"
REAL_VALUES = {
    "apiKey": "pk_live_abc123",
    "apiSecret": "very-secret-value-42",
    "signingKey": "sk_live_zyx987",
}


class _PartnerApi(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        _PartnerApi.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        body = json.dumps({"countryCode": "NG", "groups": [], "channels": [{"id": "1"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def partner_api() -> Iterator[str]:
    _PartnerApi.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PartnerApi)
    serve_in_background(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _stack_template() -> dict[str, Any]:
    """template.yaml's Parameters and WebhookEventsTable, and the Outputs the check reads (ApiUrl local)."""
    real = load_template()
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {**copy.deepcopy(real["Parameters"]), "LocalApiUrl": {"Type": "String"}},
        "Resources": {"WebhookEventsTable": copy.deepcopy(real["Resources"]["WebhookEventsTable"])},
        "Outputs": {
            "ApiUrl": {"Value": {"Ref": "LocalApiUrl"}},
            "CredentialsSecretName": copy.deepcopy(real["Outputs"]["CredentialsSecretName"]),
            "WebhookEventsTableName": {"Value": {"Ref": "WebhookEventsTable"}},
        },
    }


def deploy(name: str, api_url: str, **parameters: str) -> None:
    """The stack, and its secret holding what template.yaml's Pay1stCredentialsSecret holds after a deploy."""
    values = {
        "Environment": "sandbox",
        "Pay1stApiBaseUrl": STAGING_API,
        "Pay1stPayBaseUrl": STAGING_PAY,
        "ResultPageUrl": "https://shop.example.com/payment-result",
        "WebhookSignatureMode": "signing-key",
        "LocalApiUrl": api_url,
        **parameters,
    }
    boto3.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(_stack_template()),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()],
    )
    placeholder = load_template()["Resources"]["Pay1stCredentialsSecret"]["Properties"]["SecretString"]
    boto3.client("secretsmanager").create_secret(Name=f"{name}/pay1st/credentials", SecretString=placeholder)


def run_json(*argv: str) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--json"], out=out, err=err)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}, err.getvalue()


def step(result: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in result["steps"] if s["id"] == step_id)
    return found


def test_the_check_knows_the_placeholder_the_template_puts_in_the_secret() -> None:
    secret = load_template()["Resources"]["Pay1stCredentialsSecret"]["Properties"]["SecretString"]
    assert set(json.loads(secret).values()) == {PLACEHOLDER}


def test_outputs_and_parameters_are_read_from_cloudformation(cloud: None, partner_api: str) -> None:
    deploy(SANDBOX_STACK, partner_api, PartnerAuth="AWS_IAM")
    target = deployed_target(SANDBOX_STACK, boto3.Session())
    assert target.parameters["Environment"] == "sandbox"
    assert target.parameters["WebhookSignatureMode"] == "signing-key"
    assert (
        target.parameters["JwtAudience"] == "pay1st-partner-api"
    )  # a template default, as CloudFormation resolved it
    assert target.outputs["CredentialsSecretName"] == f"{SANDBOX_STACK}/pay1st/credentials"
    assert target.api_url == partner_api
    table = target.outputs["WebhookEventsTableName"]
    assert boto3.client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"


def test_the_placeholder_secret_fails_naming_the_keys_and_real_values_pass_unshown(
    cloud: None, partner_api: str
) -> None:
    deploy(SANDBOX_STACK, partner_api)
    target = deployed_target(SANDBOX_STACK, boto3.Session())

    placeholder = credentials_secret(Check(target, Options(), progress=io.StringIO()))
    assert placeholder.status == "failed"
    assert "apiKey placeholder, apiSecret placeholder, signingKey placeholder" in placeholder.reason
    assert placeholder.fix is not None and "put-secret-value" in placeholder.fix
    assert f"{SANDBOX_STACK}/pay1st/credentials" in placeholder.fix

    boto3.client("secretsmanager").put_secret_value(
        SecretId=f"{SANDBOX_STACK}/pay1st/credentials", SecretString=json.dumps(REAL_VALUES)
    )
    check = Check(target, Options(), progress=io.StringIO())
    real = credentials_secret(check)
    assert real.status == "passed", real
    assert real.reason.startswith("apiKey set, apiSecret set, signingKey set; webhook Basic Auth not set")
    assert check.credentials is not None and check.credentials.api_key == REAL_VALUES["apiKey"]
    shown = json.dumps([real.reason, real.fix, dict(real.details), repr(check.credentials)])
    assert not [value for value in REAL_VALUES.values() if value in shown]


def test_basic_auth_mode_without_its_credentials_in_the_secret_fails(cloud: None, partner_api: str) -> None:
    deploy(SANDBOX_STACK, partner_api, WebhookSignatureMode="basic-auth")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=f"{SANDBOX_STACK}/pay1st/credentials", SecretString=json.dumps(REAL_VALUES)
    )
    target = deployed_target(SANDBOX_STACK, boto3.Session())
    outcome = credentials_secret(Check(target, Options(), progress=io.StringIO()))
    assert outcome.status == "failed"
    assert "WebhookSignatureMode=basic-auth but webhookUsername/webhookPassword are not set" in outcome.reason


def test_a_deployed_run_signs_partner_calls_as_the_caller_and_skips_what_the_placeholder_blocks(
    cloud: None, partner_api: str
) -> None:
    deploy(SANDBOX_STACK, partner_api)
    code, result, _ = run_json("--stack", SANDBOX_STACK, "--countries", "NG")
    assert code == 1 and result["ok"] is False
    statuses = {s["id"]: s["status"] for s in result["steps"]}
    assert statuses == {
        "secret": "failed",
        "token": "skipped",
        "refresh": "skipped",
        "payment-methods": "skipped",
        "partner-api": "passed",
        "create": "skipped",
        "webhook": "skipped",
        "callback": "skipped",
        "status": "skipped",
        "fulfilment": "skipped",
        "production-config": "n/a",
        "result-page": "failed",  # samconfig's shop.example.com
        "alarms": "failed",  # no alarm topic in this stack
    }
    assert step(result, "token")["reason"] == "skipped: needs step 1 (credentials secret), which failed"
    assert step(result, "status")["reason"].startswith(
        "skipped: needs step 7 (webhook arrives (§10)), which was"
    )
    # The partner API saw a SigV4 signature for execute-api, made with the caller's (moto's) credentials
    (request,) = _PartnerApi.seen
    assert request["path"] == "/payment-methods?countryCode=NG"
    found = boto3.Session().get_credentials()  # the caller's, as botocore finds them (moto's, under mock_aws)
    assert found is not None
    caller = found.access_key
    assert request["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={caller}/")
    assert f"/{REGION}/execute-api/aws4_request" in request["authorization"]


def test_jwt_partner_auth_without_a_token_says_where_to_put_one(
    cloud: None, partner_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAY1ST_PARTNER_JWT", raising=False)
    deploy(SANDBOX_STACK, partner_api, PartnerAuth="JWT")
    _, result, _ = run_json("--stack", SANDBOX_STACK)
    partner = step(result, "partner-api")
    assert partner["status"] == "failed" and "PAY1ST_PARTNER_JWT" in partner["reason"]
    assert not _PartnerApi.seen


def test_a_missing_stack_is_one_clear_line_and_exit_2(cloud: None) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--stack", "no-such-stack"], out=out, err=err) == 2
    assert err.getvalue().startswith("go-live check: cannot read stack 'no-such-stack':")
    assert "Traceback" not in err.getvalue() and out.getvalue() == ""


PRODUCTION = {
    "Environment": "production",
    "Pay1stApiBaseUrl": "https://api-gateway.carry1st.com",
    "Pay1stPayBaseUrl": "https://pay.carry1st.com",
    "ResultPageUrl": "https://shop.example.com/payment-result",
}


def test_production_differing_from_staging_where_it_should_not_fails_listing_every_difference(
    cloud: None, partner_api: str
) -> None:
    deploy(SANDBOX_STACK, partner_api, WebhookSignatureMode="basic-auth", Pay1stPartnerCode="STAGE")
    deploy(PRODUCTION_STACK, partner_api, **PRODUCTION, WebhookSignatureMode="any", Pay1stPartnerCode="GEMS")
    _, result, _ = run_json("--stack", PRODUCTION_STACK, "--compare-with", SANDBOX_STACK)
    compared = step(result, "production-config")
    assert compared["status"] == "failed"
    assert compared["reason"].startswith("WebhookSignatureMode; all differences: ")
    for difference in (
        "Environment: 'production' here, 'sandbox' in pay1st-partner-sandbox",
        f"Pay1stApiBaseUrl: 'https://api-gateway.carry1st.com' here, '{STAGING_API}'",
        "Pay1stPartnerCode: 'GEMS' here, 'STAGE'",
        "WebhookSignatureMode: 'any' here, 'basic-auth'",
    ):
        assert difference in compared["reason"]
    assert "--parameter-overrides WebhookSignatureMode=basic-auth" in compared["fix"]
    assert compared["details"]["differences"]["WebhookSignatureMode"] == ["any", "basic-auth"]


def test_production_replicating_staging_passes_and_lists_the_per_environment_differences(
    cloud: None, partner_api: str
) -> None:
    deploy(SANDBOX_STACK, partner_api)
    # (production's rate limit at Pay1st, and so its status-query budget, is its own)
    deploy(PRODUCTION_STACK, partner_api, **PRODUCTION, StatusQueriesPerSecond="20")
    _, result, _ = run_json("--stack", PRODUCTION_STACK, "--compare-with", SANDBOX_STACK)
    compared = step(result, "production-config")
    assert compared["status"] == "passed", compared
    assert set(compared["details"]["differences"]) == {
        "Environment",
        "Pay1stApiBaseUrl",
        "Pay1stPayBaseUrl",
        "StatusQueriesPerSecond",
    }


def test_production_on_the_staging_gateway_or_without_a_comparison_fails(
    cloud: None, partner_api: str
) -> None:
    deploy(SANDBOX_STACK, partner_api)
    deploy(PRODUCTION_STACK, partner_api, Environment="production")  # staging URLs left in place
    _, result, _ = run_json("--stack", PRODUCTION_STACK, "--compare-with", SANDBOX_STACK)
    compared = step(result, "production-config")
    assert compared["status"] == "failed"
    assert "Pay1stApiBaseUrl is the sandbox's" in compared["reason"]
    assert "production gateway" in compared["fix"]

    _, alone, _ = run_json("--stack", PRODUCTION_STACK)
    assert step(alone, "production-config")["status"] == "failed"
    assert "--compare-with" in step(alone, "production-config")["fix"]
