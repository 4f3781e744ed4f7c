"""``python -m pay1st_ops --stack NAME``: a deployed stack's resources read from CloudFormation with boto3 and
the caller's credentials, on moto.

The stack holds template.yaml's own definitions of what the command line resolves (the tables, the bus, the
fulfilment queue and its DLQ) under the template's logical ids, so the physical names are CloudFormation's,
not ours. moto's CloudFormation cannot create an ``AWS::SecretsManager::Secret``, so this stack has no
credentials secret: the commands that read it (reconcile, a replay that queries) are the local stack's tests.
The payment is written by the layer's own repository.
"""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from local_stack.template import load_template
from pay1st.models import FulfilmentItem
from pay1st_ops.__main__ import main
from pay1st_ops.target import REQUIRED_RESOURCES, TargetError, deployed_target
from pay1st_ops.wiring import Services
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.fulfilment import queue_message
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.webhooks.event_store import WebhookEventStore

from tests.partner.helpers import created_payment, payment_request

STACK = "pay1st-partner-ops"
REFERENCE = "order-ops-stack-1"
PAY1ST_REFERENCE = "C-OPS-STACK-1-P"


# The stack's own settings, where they differ from the template's: the operator's wiring must use these.
CHECK_SCHEDULE = "30,90,600"
QUERY_INTERVAL = "7"


def _poller_function(real: dict[str, Any]) -> dict[str, Any]:
    """A plain Lambda function with the template's Globals environment (the settings the functions run with);
    the secret it would name is not in this stack (see above)."""
    variables = copy.deepcopy(real["Globals"]["Function"]["Environment"]["Variables"])
    variables["CREDENTIALS_SECRET_NAME"] = "not-in-this-stack"
    # moto's CloudFormation answers a Ref to an event bus with an object, not its name: the name, as AWS would.
    variables["EVENT_BUS_NAME"] = {"Fn::Sub": "${AWS::StackName}-payment-events"}
    variables["CHECK_SCHEDULE_SECONDS"] = CHECK_SCHEDULE
    variables["STATUS_QUERY_MIN_INTERVAL_SECONDS"] = QUERY_INTERVAL
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "app.lambda_handler",
            "Role": {"Fn::GetAtt": ["PollerRole", "Arn"]},
            "Code": {"ZipFile": "def lambda_handler(event, context): return None"},
            "Environment": {"Variables": variables},
        },
    }


def _stack_template() -> dict[str, Any]:
    real = load_template()
    resources = {
        name: copy.deepcopy(real["Resources"][name])
        for name in (*REQUIRED_RESOURCES, "LocksTable")  # not the secret (see above)
    }
    resources["PollerRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
    }
    resources["StatusPollerFunction"] = _poller_function(real)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": copy.deepcopy(real["Parameters"]),
        "Resources": resources,
    }


def deploy() -> dict[str, str]:
    """The stack; its resources by logical id, as CloudFormation names them."""
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(_stack_template()),
        Parameters=[
            {"ParameterKey": "Environment", "ParameterValue": "sandbox"},
            {
                "ParameterKey": "Pay1stApiBaseUrl",
                "ParameterValue": "https://api-gateway.platform.stage.carry1st.com",
            },
            {"ParameterKey": "ResultPageUrl", "ParameterValue": "https://shop.example.com/payment-result"},
        ],
    )
    summaries = cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def paid_and_dead_lettered(resources: dict[str, str]) -> None:
    """A paid payment with its webhook on record and its fulfilment in the DLQ, written by the layer."""
    dynamodb = boto3.client("dynamodb")
    payments = PaymentRepository(DynamoDBPaymentStore(resources["PaymentsTable"], client=dynamodb))
    request = payment_request(REFERENCE)
    payments.claim(request, fingerprint(request), None)
    payments.mark_created(REFERENCE, created_payment(request, PAY1ST_REFERENCE))
    payments.apply_status(REFERENCE, "SUCCESSFUL", source="webhook", reference=PAY1ST_REFERENCE)
    payments.record_fulfilment(
        REFERENCE, [FulfilmentItem(sku="GEM-500", quantity=1, fulfilment_time=datetime.now(UTC))]
    )
    hooks = WebhookEventStore(resources["WebhookEventsTable"], client=dynamodb)
    recorded = hooks.record(b'{"status":"SUCCESSFUL"}', signature_verified=True)
    hooks.set_outcome(
        recorded.event_id,
        "applied",
        partnerReference=REFERENCE,
        reference=PAY1ST_REFERENCE,
        reportedStatus="SUCCESSFUL",
        signatureScheme="signing-key",
    )
    boto3.client("sqs").send_message(
        QueueUrl=resources["FulfilmentDeadLetterQueue"], MessageBody=queue_message(REFERENCE)
    )


def ops(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--stack", STACK, *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def ops_json(*args: str) -> Any:
    code, out, err = ops("--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_the_target_is_the_stack_resources_by_logical_id(cloud: None) -> None:
    resources = deploy()
    target = deployed_target(STACK, boto3.session.Session())
    assert {name: target.resource(name) for name in REQUIRED_RESOURCES} == {
        name: resources[name] for name in REQUIRED_RESOURCES
    }
    assert target.parameters["Environment"] == "sandbox" and target.stack_name == STACK
    assert target.caller().startswith("arn:aws:")


def test_the_operators_services_are_wired_with_the_stacks_own_settings(cloud: None) -> None:
    """The old operator wiring built the repository with the default schedule and a fixed 15 s interval."""
    # Given a deployed stack whose functions run with their own check schedule and query interval
    resources = deploy()
    # When the operator's services are wired for it
    services = Services(deployed_target(STACK, boto3.session.Session()))
    # Then they carry the stack's settings, read from its functions' configuration
    assert services.settings.payments_table == resources["PaymentsTable"]
    assert services.settings.check_schedule_seconds == (30.0, 90.0, 600.0)
    assert services.settings.status_query_min_interval_seconds == 7.0
    assert services.payments._schedule.offsets_seconds == (30.0, 90.0, 600.0)
    # And --query-interval still overrides the interval
    assert Services(services.target, query_interval=2).settings.status_query_min_interval_seconds == 2.0


def test_a_stack_without_the_poller_function_is_refused_in_one_line(cloud: None) -> None:
    # Given a stack that is not this bundle's (no status poller to read settings from)
    cloudformation = boto3.client("cloudformation")
    template = _stack_template()
    del template["Resources"]["StatusPollerFunction"]
    cloudformation.create_stack(
        StackName="not-the-bundle",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "ResultPageUrl", "ParameterValue": "https://shop.example.com/r"}],
    )
    # When its services are asked for their settings
    target = deployed_target("not-the-bundle", boto3.session.Session())
    # Then the error says what is missing
    with pytest.raises(TargetError, match="has no StatusPollerFunction"):
        Services(target).settings  # noqa: B018 - the property read is the act


def test_find_show_report_and_redrive_through_the_stack(cloud: None) -> None:
    # Given a deployed stack with a paid payment whose fulfilment was dead-lettered
    resources = deploy()
    paid_and_dead_lettered(resources)
    # When the operator finds it, by either reference and by status
    assert [row["status"] for row in ops_json("find", REFERENCE)] == ["SUCCESSFUL"]
    assert [row["partnerReference"] for row in ops_json("find", "--reference", PAY1ST_REFERENCE)] == [
        REFERENCE
    ]
    assert [row["partnerReference"] for row in ops_json("find", "--status", "SUCCESSFUL")] == [REFERENCE]
    # Then show tells its story from the stack's tables, the webhook from the events table's index
    code, text, err = ops("show", REFERENCE)
    assert code == 0, err
    assert "status: SUCCESSFUL" in text and "fulfilment: QUEUED" in text
    assert "webhook SUCCESSFUL (signing-key) -> applied" in text
    assert f"event Payment Succeeded [published] id {REFERENCE}:SUCCESSFUL" not in text  # still in the outbox
    assert f"event Payment Succeeded [pending] id {REFERENCE}:SUCCESSFUL" in text
    # And the report names it, with the dead letter
    data = ops_json("report", "--fulfilment-hours", "0")
    assert [row["partnerReference"] for row in data["paidNotFulfilled"]["payments"]] == [REFERENCE]
    assert data["countsByStatus"] == {"SUCCESSFUL": 1} and data["fulfilmentDeadLetters"] == 1
    # When the operator redrives the DLQ through the stack
    assert ops("redrive-fulfilments")[0] == 1  # no terminal to confirm at, no --yes
    code, text, err = ops("redrive-fulfilments", "--yes")
    # Then the message is on the stack's fulfilment queue and the act is audited on the payment
    assert code == 0, err
    assert text == f"moved 1 message(s) to the fulfilment queue: {REFERENCE}\n"
    sqs = boto3.client("sqs")
    [moved] = sqs.receive_message(QueueUrl=resources["FulfilmentQueue"]).get("Messages", [])
    assert json.loads(moved["Body"]) == {"partnerReference": REFERENCE}
    assert not sqs.receive_message(QueueUrl=resources["FulfilmentDeadLetterQueue"]).get("Messages")
    [audit] = [e for e in ops_json("show", REFERENCE)["story"] if e["what"] == "audit"]
    assert audit["text"].startswith("operator arn:aws:") and "redrive-fulfilments" in audit["text"]
    # And a command that needs the gateway's credentials says which secret it could not read
    code, _, err = ops("reconcile", REFERENCE, "--yes")
    assert code == 2 and "cannot read the credentials secret not-in-this-stack" in err
    assert "Traceback" not in err


def test_a_stack_that_is_not_this_bundle_or_not_there_is_refused(cloud: None) -> None:
    boto3.client("cloudformation").create_stack(
        StackName="something-else",
        TemplateBody=json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}),
    )
    with pytest.raises(TargetError, match="has no PaymentsTable"):
        deployed_target("something-else", boto3.session.Session())
    code, _, err = ops("find", REFERENCE)
    assert code == 2 and f"cannot read stack {STACK!r}" in err
