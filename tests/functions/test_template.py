"""template.yaml: functions, routes and their authorization, and the resources the functions rely on.

Two levels: the template as written (what a reviewer reads) and the template as the SAM transform turns
it into an HTTP API definition (what API Gateway enforces), for both PartnerAuth choices.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_stack.iam import Statement, allowed, request_resources
from local_stack.resolver import PSEUDO_PARAMETERS, Resolver
from local_stack.spec import rate_seconds
from local_stack.template import load_template

from tests.conftest import ACCOUNT_ID, REGION, AwsEnv, FakeLambdaContext, build_http_event

ROOT = Path(__file__).resolve().parents[2]

FUNCTIONS = {
    "CreatePaymentFunction": "create_payment",
    "CreateRefundFunction": "create_refund",
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
    ("POST", "/payments/{partnerReference}/refunds"),
}
PUBLIC_ROUTES = {
    ("POST", "/webhooks/pay1st"),
    ("POST", "/webhooks/pay1st/refunds"),
    ("GET", "/callbacks/{outcome}"),
}


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
    defines = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)} | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "lambda_handler" in defines, f"{handler} defines no lambda_handler"


def test_the_layer_is_built_for_python313_arm64(template):
    layer = template["Resources"]["Pay1stLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/pay1st/"
    # Built by layers/pay1st/Makefile: python3.13 bytecode (tests/layer/test_built_layer.py checks the output)
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert "python3.13" in (ROOT / "layers/pay1st/Makefile").read_text(encoding="utf-8")


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
            reasons.add(dimensions["reason"])
    assert reasons == {"missing_signature", "invalid_signature", "stale_timestamp"}


def _policy_documents(template: dict[str, Any], function: dict[str, Any]) -> list[dict[str, Any]]:
    """A function's policies as written: its inline ones, and the documents of the managed ones it references."""
    documents = []
    for policy in function["Properties"].get("Policies", []):
        if set(policy) == {"Ref"}:
            managed = template["Resources"][policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", policy
            policy = managed["Properties"]["PolicyDocument"]
        documents.append(policy)
    return documents


def test_inline_policies_name_exact_resources(template):
    for name, function in _functions(template).items():
        for policy in _policy_documents(template, function):
            assert set(policy) - {"Version"} == {"Statement"}, (
                f"{name}: write policies out as statements, not {policy}"
            )
            for statement in policy["Statement"]:
                assert statement["Effect"] == "Allow"
                resource = statement["Resource"]
                assert resource != "*" and "*" not in str(resource), (name, statement)
                assert "*" not in str(statement["Action"]), (name, statement)


# ------------------------------------------------------------------------------------------------- IAM
# The AWS calls each function's code makes (functions/<name>/app.py → pay1st_partner: repository,
# webhook_events, events, fulfilment; pay1st.aws: the token store and the credentials), as
# (IAM action, the environment variable naming the resource[, DynamoDB index]). Its policy (inline statements
# and the managed GatewayClientPolicy it references) must allow exactly these; and the `aws` fixture fails any
# function test whose handler makes a call its policy does not allow.
def _dynamodb(variable: str, *operations: str) -> set[tuple[str, ...]]:
    return {(f"dynamodb:{operation}", variable) for operation in operations}


GATEWAY_CALLS = {  # credentials; the shared token cache and its refresh lease (conditional put, owner's delete)
    ("secretsmanager:GetSecretValue", "CREDENTIALS_SECRET_NAME"),
    ("ssm:GetParameter", "TOKEN_PARAMETER_NAME"),
    ("ssm:PutParameter", "TOKEN_PARAMETER_NAME"),
    *_dynamodb("LOCKS_TABLE", "PutItem", "DeleteItem"),
}
PUBLISH_CALLS = {("events:PutEvents", "EVENT_BUS_NAME")}
AWS_CALLS: dict[str, set[tuple[str, ...]]] = {
    # claim (conditional put), read, mark created / outcome unknown, release a claim the gateway refused
    "CreatePaymentFunction": _dynamodb("PAYMENTS_TABLE", "GetItem", "PutItem", "UpdateItem", "DeleteItem")
    | GATEWAY_CALLS,
    # read; claim the refundReference pointer (conditional put, deleted on a refusal), reserve, mark, publish
    "CreateRefundFunction": _dynamodb("PAYMENTS_TABLE", "GetItem", "PutItem", "UpdateItem", "DeleteItem")
    | PUBLISH_CALLS
    | GATEWAY_CALLS,
    # read; a stale open payment is refreshed: transition, touch, outbox cleared after publishing
    "PaymentStatusFunction": _dynamodb("PAYMENTS_TABLE", "GetItem", "UpdateItem")
    | PUBLISH_CALLS
    | GATEWAY_CALLS,
    "PaymentMethodsFunction": set(GATEWAY_CALLS),
    # read, record the fulfilment (conditional), queue the notice
    "FulfilmentFunction": _dynamodb("PAYMENTS_TABLE", "GetItem", "UpdateItem")
    | {("sqs:SendMessage", "FULFILMENT_QUEUE_URL")},
    # read the recorded fulfilment, mark it delivered (receiving from SQS is the event source's own policy);
    # dead-letter an undeliverable notice at once (its own environment names the DLQ)
    "FulfilmentSenderFunction": _dynamodb("PAYMENTS_TABLE", "GetItem", "UpdateItem")
    | {("sqs:SendMessage", "FULFILMENT_DEAD_LETTER_QUEUE_URL")}
    | GATEWAY_CALLS,
    # the durable webhook record (one upsert, then its outcome), then the transition
    "WebhookIntakeFunction": _dynamodb("WEBHOOK_EVENTS_TABLE", "UpdateItem")
    | _dynamodb("PAYMENTS_TABLE", "GetItem", "UpdateItem")
    | PUBLISH_CALLS
    | GATEWAY_CALLS,
    # the callback key (the secret); read; an open payment is checked once: transition, touch, outbox cleared
    "CallbackRedirectFunction": _dynamodb("PAYMENTS_TABLE", "GetItem", "UpdateItem")
    | PUBLISH_CALLS
    | GATEWAY_CALLS,
    # the sparse indexes (the watch list also feeds the PaidNotFulfilled gauge); read, transition, touch,
    # clear the outbox
    "StatusPollerFunction": {
        ("dynamodb:Query", "PAYMENTS_TABLE", "watchList"),
        ("dynamodb:Query", "PAYMENTS_TABLE", "pendingEvents"),
        ("dynamodb:Query", "PAYMENTS_TABLE", "openRefunds"),
    }
    | _dynamodb("PAYMENTS_TABLE", "GetItem", "UpdateItem")
    | PUBLISH_CALLS
    | GATEWAY_CALLS,
}
_PARAMETER_OF = {  # the API parameter that names the resource
    "dynamodb": "TableName",
    "ssm": "Name",
    "secretsmanager": "SecretId",
    "sqs": "QueueUrl",
}


def _call_resources(call: tuple[str, ...], env: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """(action, the ARNs it acts on) for one expected call, with the functions' environment."""
    action, variable, *index = call
    service, operation = action.split(":")
    value = env[variable]
    params: dict[str, Any] = (
        {"Entries": [{"EventBusName": value}]} if service == "events" else {_PARAMETER_OF[service]: value}
    )
    if index:
        params["IndexName"] = index[0]
    return action, request_resources(service, operation, params, region=REGION, account=ACCOUNT_ID)


def _granted(statements: list[dict[str, Any]], resolver: Resolver) -> set[tuple[str, tuple[str, ...]]]:
    """(action, (resource,)) for every pair the statements allow, intrinsics resolved."""
    return {
        (action, (resource,))
        for statement in (resolver.resolve(s) for s in statements)
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_gateway_clients_statements_are_one_managed_policy_for_exactly_the_functions_that_call_it(
    template, aws: AwsEnv
):
    """Written once (GatewayClientPolicy), referenced by every function whose code calls the gateway and by
    no other, and repeated inline by none."""
    policy = template["Resources"]["GatewayClientPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert not {"Roles", "Users", "Groups"} & set(policy["Properties"]), "attached only through Policies"
    assert aws.resolver is not None
    gateway = _granted(policy["Properties"]["PolicyDocument"]["Statement"], aws.resolver)
    assert gateway == {_call_resources(call, aws.env) for call in GATEWAY_CALLS}

    gateway_functions = {name for name, calls in AWS_CALLS.items() if GATEWAY_CALLS <= calls}
    assert len(gateway_functions) == 8
    for name, function in _functions(template).items():
        policies = function["Properties"].get("Policies", [])
        assert policies.count({"Ref": "GatewayClientPolicy"}) == (1 if name in gateway_functions else 0), name
        inline = [statement for p in policies if "Statement" in p for statement in p["Statement"]]
        assert not _granted(inline, aws.resolver) & gateway, f"{name} repeats the gateway client's grants"


def test_the_transformed_roles_attach_the_gateway_client_policy_and_keep_their_inline_statements(
    template, monkeypatch
):
    """SAM turns the `!Ref` into a managed policy ARN on the function's role, next to its inline policy."""
    translated = _translate(template, "AWS_IAM", monkeypatch)["Resources"]
    assert translated["GatewayClientPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    for name, function in _functions(template).items():
        role = translated[f"{name}Role"]["Properties"]
        attached = {"Ref": "GatewayClientPolicy"} in role["ManagedPolicyArns"]
        assert attached == ({"Ref": "GatewayClientPolicy"} in function["Properties"]["Policies"]), name
        inline = [s for p in function["Properties"]["Policies"] if "Statement" in p for s in p["Statement"]]
        assert [s for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]] == inline, name


def test_every_function_has_an_expected_call_list(template):
    assert set(AWS_CALLS) == set(_functions(template))


@pytest.mark.parametrize("function_id", sorted(AWS_CALLS))
def test_each_policy_allows_exactly_the_calls_its_function_makes(aws: AwsEnv, template, function_id):
    assert aws.policy_check is not None and aws.resolver is not None
    statements = aws.policy_check.policies[function_id]
    # The Globals' environment, and the function's own variables over it (as Lambda merges them)
    own = template["Resources"][function_id]["Properties"].get("Environment", {}).get("Variables", {})
    env = {**aws.env, **{name: str(aws.resolver.resolve(value)) for name, value in own.items()}}
    expected = {_call_resources(call, env) for call in AWS_CALLS[function_id]}

    for action, resources in sorted(expected):
        assert allowed(statements, action, resources), f"{function_id} may not {action} on {resources}"
    granted = {
        (action, (resource,))
        for statement in statements
        for action in statement.actions
        for resource in statement.resources
    }
    assert granted == expected, f"{function_id} is granted more than its code uses: {granted - expected}"


def test_the_policy_check_fails_a_call_the_policy_does_not_allow(aws: AwsEnv, monkeypatch):
    """The check behind every function test: a handler's call outside its policy is reported."""
    from functions.callback_redirect import app

    check = aws.policy_check
    assert check is not None
    from pay1st_partner import runtime
    from pay1st_partner.payments.result_page import callback_token

    token = callback_token(runtime.callback_key(), "ord-1")  # a valid token: the handler reads the payment
    event = build_http_event(
        "GET",
        "/callbacks/success",
        path_params={"outcome": "success"},
        query={"partnerReference": "ord-1", "token": token},
    )
    assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 302  # GetItem: allowed
    assert check.violations == []

    table_arn = aws.resolver.get_att("PaymentsTable", "Arn") if aws.resolver else ""
    monkeypatch.setitem(
        check.policies,
        "CallbackRedirectFunction",
        (Statement("Allow", ("dynamodb:Query",), (table_arn,)),),  # not GetItem
    )
    assert app.lambda_handler(event, FakeLambdaContext())["statusCode"] == 302
    assert check.violations == [f"CallbackRedirectFunction called dynamodb:GetItem on {table_arn}"]
    check.violations.clear()  # seen: do not fail this test at teardown


def test_the_test_fixtures_queues_are_the_templates(aws: AwsEnv, template):
    """FulfilmentQueue and its DLQ come from template.yaml (redrive, visibility), not a copy."""
    declared = template["Resources"]["FulfilmentQueue"]["Properties"]
    attributes = aws.sqs.get_queue_attributes(QueueUrl=aws.fulfilment_queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    dlq_arn = aws.sqs.get_queue_attributes(QueueUrl=aws.fulfilment_dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == declared["RedrivePolicy"]["maxReceiveCount"]
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(attributes["VisibilityTimeout"]) == declared["VisibilityTimeout"]


# --------------------------------------------------------------------------------------- observability
def _stack_resolver(template: dict[str, Any], stack_name: str) -> Resolver:
    return Resolver(template, {}, {}, {}, pseudo={**PSEUDO_PARAMETERS, "AWS::StackName": stack_name})


def _bundle_alarm_metrics(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm watches in the bundle's own namespace (plain alarms and metric math)."""
    watched = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        if "MetricName" in props:
            watched.append({k: props[k] for k in ("Namespace", "MetricName", "Dimensions")})
        watched += [
            query["MetricStat"]["Metric"] for query in props.get("Metrics", []) if "MetricStat" in query
        ]
    return [metric for metric in watched if not str(metric["Namespace"]).startswith("AWS/")]


def test_alarms_watch_the_service_of_their_own_stack(template):
    """A sandbox and a production stack in one account and region never trip each other's alarms."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    service = variables["POWERTOOLS_SERVICE_NAME"]
    metrics = _bundle_alarm_metrics(template)
    assert {m["MetricName"] for m in metrics} >= {"WebhookRejected", "StatusConflict", "CreateOutcomeUnknown"}
    for metric in metrics:
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dimensions["service"] == service, metric
        assert metric["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"], metric
    names = {
        _stack_resolver(template, stack).resolve(service) for stack in ("shop-sandbox", "shop-production")
    }
    assert len(names) == 2, "the service name must differ between stacks"


def test_the_metrics_the_functions_emit_are_the_ones_the_alarms_watch(template, tmp_path):
    """The layer's metrics, with the environment the template gives a stack, match its alarms exactly.

    CloudWatch matches an alarm to a metric on namespace, name and the whole dimension set.
    """
    resolver = _stack_resolver(template, "shop-sandbox")
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")},
        "PYTHONPATH": str(ROOT / "layers" / "pay1st"),
        "POWERTOOLS_SERVICE_NAME": resolver.resolve(variables["POWERTOOLS_SERVICE_NAME"]),
        "POWERTOOLS_METRICS_NAMESPACE": resolver.resolve(variables["POWERTOOLS_METRICS_NAMESPACE"]),
    }
    watched = [resolver.resolve(metric) for metric in _bundle_alarm_metrics(template)]
    # The layer emits each watched metric as the code does: extra dimensions through count(), the others
    # through the shared Metrics object.
    (tmp_path / "watched.json").write_text(json.dumps(watched))
    script = tmp_path / "emit.py"
    script.write_text(
        "import json, sys\n"
        "from pay1st_partner.observability import count, metrics\n"
        "for metric in json.load(open(sys.argv[1])):\n"
        "    extra = {d['Name']: d['Value'] for d in metric['Dimensions'] if d['Name'] != 'service'}\n"
        "    count(metric['MetricName'], **extra)\n"
        "metrics.flush_metrics()\n"
    )
    completed = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(script), str(tmp_path / "watched.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    emitted = set()
    for line in completed.stdout.splitlines():
        record = json.loads(line)
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        for dimension_set in directive["Dimensions"]:
            for metric in directive["Metrics"]:
                dimensions = frozenset((name, record[name]) for name in dimension_set)
                emitted.add((directive["Namespace"], metric["Name"], dimensions))
    for metric in watched:
        key = (
            metric["Namespace"],
            metric["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"]),
        )
        assert key in emitted, f"no metric matches the alarm on {key}; emitted {sorted(emitted, key=str)}"

    sources = "".join(path.read_text() for path in (ROOT / "layers/pay1st/pay1st_partner").rglob("*.py"))
    for name in {metric["MetricName"] for metric in watched}:
        assert _emitted_in(sources, name), f"the layer never emits {name}"


# ------------------------------------------------------------------------------------------- the poller
def test_status_poller_runs_do_not_overlap_and_its_event_names_its_schedule(template):
    poller = template["Resources"]["StatusPollerFunction"]["Properties"]
    ((name, event),) = poller["Events"].items()
    assert event["Type"] == "Schedule"
    rate = rate_seconds(event["Properties"]["Schedule"])
    assert rate is not None
    assert poller["Timeout"] < rate  # a run ends before the next one is due
    # A run that could not start on time is dropped, not run late next to the following one.
    assert poller["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert poller["EventInvokeConfig"]["MaximumEventAgeInSeconds"] <= rate
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    minutes = int(rate // 60)
    assert name == ("EveryMinute" if minutes == 1 else f"Every{minutes}Minutes")


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


def test_webhook_signature_modes_partner_identity_and_the_wrong_partner_alarm(template):
    parameters = template["Parameters"]
    mode = parameters["WebhookSignatureMode"]
    assert mode["Default"] == "any"
    assert set(mode["AllowedValues"]) == {"any", "signing-key", "basic-auth", "off", "required"}
    assert parameters["Pay1stPartnerCode"]["Default"] == parameters["Pay1stPartnerId"]["Default"] == ""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PAY1ST_PARTNER_CODE"] == {"Ref": "Pay1stPartnerCode"}
    assert variables["PAY1ST_PARTNER_ID"] == {"Ref": "Pay1stPartnerId"}
    assert float(variables["STATUS_QUERY_MIN_INTERVAL_SECONDS"]) > 0
    alarm = template["Resources"]["WebhookWrongPartnerAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("Pay1st", "WebhookRejected", 1)
    assert {"Name": "reason", "Value": "wrong_partner"} in alarm["Dimensions"]


# ------------------------------------------------------------------------------------ production-grade
def _resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in _resources_of(template, "AWS::CloudWatch::Alarm").items()}


def test_every_function_logs_to_a_log_group_of_the_stack_kept_for_the_retention_parameter(template):
    """Logs neither live forever nor outlive the stack: no function writes to a group Lambda would create."""
    log_groups = _resources_of(template, "AWS::Logs::LogGroup")
    used = []
    for name, function in _functions(template).items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert set(group) == {"Ref"} and group["Ref"] in log_groups, f"{name} logs to {group}"
        used.append(group["Ref"])
    assert len(set(used)) == len(used), "each function has a log group of its own"
    access_log = template["Resources"]["PaymentsApi"]["Properties"]["AccessLogSettings"]["DestinationArn"]
    assert set(log_groups) == {*used, access_log["Fn::GetAtt"][0]}, "no log group without a writer"
    for name, group in log_groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group.get("DeletionPolicy", "Delete") == "Delete", name
    retention = template["Parameters"]["LogRetentionDays"]
    assert retention["Default"] == 30 and 30 in retention["AllowedValues"]


def test_every_function_has_errors_and_throttles_alarms_on_the_alarm_topic(template):
    watched: dict[tuple[str, str], int] = {}
    for alarm in _alarms(template).values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm  # every alarm notifies the topic
        if alarm.get("Namespace") != "AWS/Lambda" or alarm["MetricName"] not in ("Errors", "Throttles"):
            continue
        ((dimension,),) = [alarm["Dimensions"]]
        assert dimension["Name"] == "FunctionName"
        key = (dimension["Value"]["Ref"], alarm["MetricName"])
        watched[key] = watched.get(key, 0) + 1
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Sum",
            1,
            "GreaterThanOrEqualToThreshold",
        )
    assert watched == {(name, metric): 1 for name in FUNCTIONS for metric in ("Errors", "Throttles")}


def test_each_functions_log_group_and_alarms_are_written_once_and_keep_their_names(template):
    """One Fn::ForEach over the functions makes them all (a tenth function cannot be forgotten in one place of
    three); their logical ids and log group names are the ones they had when written out per function, so a
    stack upgraded to it replaces none of them."""
    as_written = load_template(ROOT / "template.yaml", as_written=True)
    identifier, names, output = as_written["Resources"]["Fn::ForEach::FunctionLogsAndAlarms"]
    assert {f"{name}Function" for name in names} == set(FUNCTIONS)
    assert set(output) == {
        f"${{{identifier}}}{suffix}" for suffix in ("LogGroup", "ErrorsAlarm", "ThrottlesAlarm")
    }
    assert set(as_written["Mappings"]["Functions"]) == set(names)  # each function's log name
    resolver = _stack_resolver(template, "shop-sandbox")
    for logical_id, directory in FUNCTIONS.items():
        name = logical_id.removesuffix("Function")
        group = template["Resources"][f"{name}LogGroup"]["Properties"]
        expected = f"/aws/lambda/shop-sandbox/{directory.replace('_', '-')}"
        assert resolver.resolve(group["LogGroupName"]) == expected, logical_id
        for metric in ("Errors", "Throttles"):
            alarm = template["Resources"][f"{name}{metric}Alarm"]["Properties"]
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
            assert alarm["AlarmDescription"].startswith(f"{logical_id} ")


def test_every_samconfig_environment_has_sam_cli_expand_the_loops():
    """sam build, package and deploy fail on Fn::ForEach unless told to expand AWS::LanguageExtensions locally."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    environments = {key for key, value in config.items() if isinstance(value, dict)}
    assert environments == {"default", "sandbox", "production"}
    for environment in environments:
        assert config[environment]["global"]["parameters"]["language_extensions"] is True, environment


def test_the_readme_counts_the_alarms_and_the_alarm_metrics_cloudwatch_bills(template):
    """CloudWatch bills a standard alarm per metric it watches: a metric-math alarm per metric it queries."""
    alarms = _alarms(template)
    metrics = sum(
        1 if "MetricName" in alarm else sum("MetricStat" in query for query in alarm["Metrics"])
        for alarm in alarms.values()
    )
    readme = (ROOT / "README.md").read_text()
    assert f"A stack has {len(alarms)} standard alarms" in readme
    assert f"{metrics} alarm metrics" in readme and f"${metrics * 0.10:.2f} a month at $0.10 each" in readme


def test_a_poller_that_stops_running_is_alarmed(template):
    """The schedule has no failure destination; a disabled or dropped schedule is caught by its Invocations."""
    poller = template["Resources"]["StatusPollerFunction"]["Properties"]
    rate = rate_seconds(next(iter(poller["Events"].values()))["Properties"]["Schedule"])
    assert rate is not None
    (alarm,) = [
        a
        for a in _alarms(template).values()
        if a.get("MetricName") == "Invocations"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "StatusPollerFunction"}}]
    ]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"  # no runs, no data points
    assert alarm["Period"] * alarm["EvaluationPeriods"] >= 2 * rate  # one late run is not an outage


def test_paid_not_fulfilled_is_alarmed_and_its_hours_are_a_parameter(template):
    alarm = template["Resources"]["PaidNotFulfilledAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "Pay1st",
        "PaidNotFulfilled",
        "Maximum",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "breaching"  # the poller emits it every run; none means not measured
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PAID_NOT_FULFILLED_HOURS"] == {"Ref": "PaidNotFulfilledHours"}
    assert template["Parameters"]["PaidNotFulfilledHours"]["Default"] == 2
    poller_indexes = template["Resources"]["StatusPollerFunction"]["Properties"]["Policies"][0]["Statement"][
        0
    ]
    assert {"Fn::Sub": "${PaymentsTable.Arn}/index/watchList"} in poller_indexes["Resource"]


def test_public_routes_are_throttled_below_the_partner_routes(template, monkeypatch):
    """A flood on the routes anyone can call is refused by API Gateway before it reaches Lambda."""
    api = template["Resources"]["PaymentsApi"]["Properties"]
    default = api["DefaultRouteSettings"]
    settings = api["RouteSettings"]
    assert set(settings) == {f"{method} {path}" for method, path in PUBLIC_ROUTES}
    for route, limits in settings.items():
        assert 0 < limits["ThrottlingRateLimit"] < default["ThrottlingRateLimit"], route
        assert (
            limits["ThrottlingRateLimit"] <= limits["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]
        )
    # and SAM carries them to the stage API Gateway enforces
    translated = _translate(template, "AWS_IAM", monkeypatch)["Resources"]
    (stage,) = [r for r in translated.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert stage["Properties"]["RouteSettings"] == settings


def test_the_payment_events_bus_is_archived_for_replays(template):
    (archive,) = _resources_of(template, "AWS::Events::Archive").values()
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": ["PaymentEventsBus", "Arn"]}
    assert archive["Properties"]["RetentionDays"] == {"Ref": "EventArchiveRetentionDays"}
    assert "EventPattern" not in archive["Properties"]  # every event the bundle publishes
    assert template["Parameters"]["EventArchiveRetentionDays"]["MinValue"] >= 1  # 0 would keep them forever


def test_the_layer_name_is_the_stacks_own(template):
    name = template["Resources"]["Pay1stLayer"]["Properties"]["LayerName"]
    names = {_stack_resolver(template, stack).resolve(name) for stack in ("shop-sandbox", "shop-production")}
    assert len(names) == 2


def _dashboard_metrics(template: dict[str, Any]) -> list[list[Any]]:
    (dashboard,) = _resources_of(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::ToJsonString"]
    return [metric for widget in body["widgets"] for metric in widget["properties"]["metrics"]]


def test_the_dashboard_shows_only_metrics_the_code_emits_with_their_dimensions(template):
    sources = "".join(path.read_text() for path in (ROOT / "layers/pay1st/pay1st_partner").rglob("*.py"))
    own, searched, aws_metrics = set(), set(), set()
    for metric in _dashboard_metrics(template):
        if isinstance(metric[0], dict):  # a SEARCH over one metric's extra dimension
            expression = metric[0]["expression"]["Fn::Sub"]
            found = re.fullmatch(
                r"SEARCH\('\{Pay1st,service,(\w+)\} MetricName=\"(\w+)\" "
                r"service=\"\$\{AWS::StackName\}\"', 'Sum', 300\)",
                expression,
            )
            assert found is not None, expression
            dimension, name = found.groups()
            assert f'count("{name}", ' in sources and f"{dimension}=" in sources, name
            searched.add(name)
            continue
        namespace, name, *dimensions = metric
        if isinstance(dimensions[-1], dict) and not any(
            k == "Ref" or k.startswith("Fn::") for k in dimensions[-1]
        ):
            dimensions.pop()  # the widget's rendering options (label, stat, axis)
        if namespace == "Pay1st":
            assert dimensions == ["service", {"Ref": "AWS::StackName"}], metric
            # count("Name", ...), or one of the two names TokenRefreshMeter passes to count()
            token_meter = name in {"TokenRefreshes", "TokensIssued"} and f'"{name}")' in sources
            assert _emitted_in(sources, name) or token_meter, f"the layer never emits {name}"
            own.add(name)
        else:
            aws_metrics.add((namespace, name, json.dumps(dimensions[1])))
    assert {"PaymentsCreated", "WebhookAccepted", "FulfilmentsDelivered", "FulfilmentsFailed"} <= own
    assert {"PaidNotFulfilled", "TokenRefreshes", "TokensIssued"} <= own
    assert searched == {"StatusTransition", "WebhookRejected", "StatusRejected"}
    for name in FUNCTIONS:
        for metric_name in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric_name, json.dumps({"Ref": name})) in aws_metrics, (name, metric_name)
    dlq = json.dumps({"Fn::GetAtt": ["FulfilmentDeadLetterQueue", "QueueName"]})
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq) in aws_metrics


def test_every_checkov_skip_says_why(template):
    for name, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV"), name
            assert len(skip["comment"].split()) >= 5 and "\n" not in skip["comment"], (name, skip)


# The Lambda function checks .checkov.yaml skips for every function: a check of any other kind skipped there
# would be skipped for resources nobody looked at.
_FUNCTION_CHECKS = {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}


def test_the_checks_skipped_for_every_function_are_function_checks_each_with_its_reason():
    config = (ROOT / ".checkov.yaml").read_text(encoding="utf-8")
    skipped = yaml.safe_load(config)["skip-check"]
    assert skipped and set(skipped) <= _FUNCTION_CHECKS, skipped
    for check in skipped:
        [line] = [line for line in config.splitlines() if line.strip().startswith(f"- {check}")]
        reason = line.partition("#")[2]
        assert len(reason.split()) >= 5, line


def _emitted_in(sources: str, name: str) -> bool:
    """``count("Name", ...)``, or a claim's outcome-unknown metric that gateway_calls counts by its name."""
    return f'count("{name}"' in sources or f'unknown_metric="{name}"' in sources
