"""template.yaml: functions, routes and their authorization, and the resources the functions rely on.

Two levels: the template as written (what a reviewer reads) and the template as the SAM transform turns
it into an HTTP API definition (what API Gateway enforces), for both PartnerAuth choices.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
from local_stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]

FUNCTIONS = {
    "CreatePaymentFunction": "create_payment",
    "PaymentStatusFunction": "payment_status",
    "PaymentMethodsFunction": "payment_methods",
    "FulfilmentFunction": "fulfilment",
    "FulfilmentSenderFunction": "fulfilment_sender",
    "WebhookIntakeFunction": "webhook_intake",
    "CallbackRedirectFunction": "callback_redirect",
    "StatusPollerFunction": "status_poller",
}
PARTNER_ROUTES = {
    ("POST", "/payments"),
    ("GET", "/payments/{partnerReference}"),
    ("GET", "/payment-methods"),
    ("POST", "/payments/{partnerReference}/fulfilment"),
}
PUBLIC_ROUTES = {("POST", "/webhooks/pay1st"), ("GET", "/callbacks/{outcome}")}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def _http_events(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, event["Properties"])
        for name, function in _functions(template).items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]


def test_declares_exactly_the_bundles_functions(template):
    assert set(_functions(template)) == set(FUNCTIONS)


@pytest.mark.parametrize(("logical_id", "directory"), FUNCTIONS.items())
def test_every_function_is_python313_arm64_with_the_layer_and_an_existing_handler(
    template, logical_id, directory
):
    globals_ = template["Globals"]["Function"]
    props = {**globals_, **template["Resources"][logical_id]["Properties"]}

    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert {"Ref": "Pay1stLayer"} in props["Layers"]
    assert props["Handler"] == "app.lambda_handler"
    assert props["CodeUri"] == f"functions/{directory}/"

    handler = ROOT / "functions" / directory / "app.py"
    assert handler.is_file(), f"{handler} is missing"
    tree = ast.parse(handler.read_text())
    assert any(isinstance(node, ast.FunctionDef) and node.name == "lambda_handler" for node in tree.body), (
        f"{handler} defines no lambda_handler"
    )


def test_the_layer_is_built_for_python313_arm64(template):
    layer = template["Resources"]["Pay1stLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/pay1st/"
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_every_route_is_on_the_payments_api_with_payload_2(template):
    routes = set()
    for _name, props in _http_events(template):
        assert props["ApiId"] == {"Ref": "PaymentsApi"}
        assert props["PayloadFormatVersion"] == "2.0"
        routes.add((props["Method"].upper(), props["Path"]))
    assert routes == PARTNER_ROUTES | PUBLIC_ROUTES


def test_partner_routes_use_the_default_authorizer_and_only_webhook_and_callbacks_are_public(template):
    public, partner = set(), set()
    for _name, props in _http_events(template):
        route = (props["Method"].upper(), props["Path"])
        authorizer = props.get("Auth", {}).get("Authorizer")
        if authorizer == "NONE":
            public.add(route)
        else:
            assert authorizer is None, f"{route} overrides the partner authorizer"
            partner.add(route)
    assert public == PUBLIC_ROUTES
    assert partner == PARTNER_ROUTES

    auth = template["Resources"]["PaymentsApi"]["Properties"]["Auth"]
    assert auth["EnableIamAuthorizer"] is True
    assert auth["DefaultAuthorizer"] == {"Fn::If": ["UseJwtAuth", "PartnerJwtAuthorizer", "AWS_IAM"]}
    assert set(auth["Authorizers"]["PartnerJwtAuthorizer"]["JwtConfiguration"]) == {"issuer", "audience"}
    assert template["Parameters"]["PartnerAuth"]["Default"] == "AWS_IAM"
    assert "AWS::LanguageExtensions" in template["Transform"]


def _translate(
    template: dict[str, Any], partner_auth: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Run the SAM transform the way CloudFormation does after AWS::LanguageExtensions resolved the Fn::If."""
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    document = copy.deepcopy(template)
    document["Transform"] = "AWS::Serverless-2016-10-31"
    auth = document["Resources"]["PaymentsApi"]["Properties"]["Auth"]
    condition, if_jwt, if_iam = auth["DefaultAuthorizer"]["Fn::If"]
    assert condition == "UseJwtAuth"
    auth["DefaultAuthorizer"] = if_jwt if partner_auth == "JWT" else if_iam
    for resource in document["Resources"].values():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/code.zip"  # as `sam package` leaves it

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    params = {"ResultPageUrl": "https://shop.example.com/result", "PartnerAuth": partner_auth}
    translated: dict[str, Any] = transform(document, params, NoManagedPolicies())
    return translated


@pytest.mark.parametrize(
    ("partner_auth", "scheme"), [("AWS_IAM", "AWS_IAM"), ("JWT", "PartnerJwtAuthorizer")]
)
def test_the_transformed_api_enforces_the_chosen_authorizer_on_partner_routes(
    template, monkeypatch, partner_auth, scheme
):
    translated = _translate(template, partner_auth, monkeypatch)
    (api,) = [r for r in translated["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    security = {
        (method.upper(), path): spec.get("security")
        for path, methods in api["Properties"]["Body"]["paths"].items()
        for method, spec in methods.items()
    }
    assert set(security) == PARTNER_ROUTES | PUBLIC_ROUTES
    for route in PARTNER_ROUTES:
        assert security[route] == [{scheme: []}], route
    for route in PUBLIC_ROUTES:
        assert security[route] in (None, [], [{"NONE": []}]), route


def test_tables_are_on_demand_with_point_in_time_recovery(template):
    for name in ("PaymentsTable", "WebhookEventsTable"):
        props = template["Resources"][name]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_fulfilment_queue_dead_letters_and_the_dlq_is_alarmed(template):
    resources = template["Resources"]
    redrive = resources["FulfilmentQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["FulfilmentDeadLetterQueue", "Arn"]}
    assert int(redrive["maxReceiveCount"]) >= 3
    sender = resources["FulfilmentSenderFunction"]["Properties"]
    timeout = sender["Timeout"]
    assert resources["FulfilmentQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout
    (event,) = sender["Events"].values()
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    alarms = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    dlq_alarms = [
        a
        for a in alarms.values()
        if a.get("Namespace") == "AWS/SQS"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FulfilmentDeadLetterQueue", "QueueName"]}}
        in a["Dimensions"]
    ]
    assert dlq_alarms
    metrics = {(a["Namespace"], a["MetricName"]) for a in alarms.values() if "MetricName" in a}
    assert {("AWS/ApiGateway", "5xx"), ("Pay1st", "StatusConflict")} <= metrics

    # Signature failures: WebhookRejected for each signature reason the intake emits (a reason dimension).
    (signature,) = [a for a in alarms.values() if any("MetricStat" in m for m in a.get("Metrics", []))]
    reasons = set()
    for query in signature["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            assert (metric["Namespace"], metric["MetricName"]) == ("Pay1st", "WebhookRejected")
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            assert dimensions["service"] == "pay1st"
            reasons.add(dimensions["reason"])
    assert reasons == {"missing_signature", "invalid_signature", "stale_timestamp"}


def test_inline_policies_name_exact_resources(template):
    for name, function in _functions(template).items():
        for policy in function["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                for statement in policy["Statement"]:
                    resource = statement["Resource"]
                    assert resource != "*" and "*" not in str(resource), (name, statement)
            elif isinstance(policy, dict):
                ((template_name, args),) = policy.items()
                assert args and all(v not in ("*", "") for v in args.values()), (name, template_name)


def test_every_function_reads_its_settings_from_the_globals(template):
    from pay1st_partner.settings import _REQUIRED

    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert set(_REQUIRED) <= set(variables)


def test_outputs_list_the_urls_to_paste_into_the_pay1st_console(template):
    outputs = template["Outputs"]
    expected = {
        "WebhookUrl": "/webhooks/pay1st",
        "CallbackSuccessUrl": "/callbacks/success",
        "CallbackFailureUrl": "/callbacks/failure",
        "CallbackPendingUrl": "/callbacks/pending",
        "CallbackCancelUrl": "/callbacks/cancel",
    }
    for name, path in expected.items():
        _condition, custom, default = outputs[name]["Value"]["Fn::If"]
        assert custom["Fn::Sub"].endswith(path)
        assert default["Fn::Sub"].endswith(path)
        assert "${PaymentsApi}.execute-api." in default["Fn::Sub"]
    assert {"ApiUrl", "PaymentsTableName", "PaymentEventsBusName", "FulfilmentQueueUrl"} <= set(outputs)
