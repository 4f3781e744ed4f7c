"""Every sample in events/ invoked through the runner, with the outcome events/README.md documents.

The samples are the shapes `sam local generate-event` produces, so they work with `sam local invoke -e` too.
Some outcomes need state: the tests create it as a user would (`--setup`/`--settle` on the command line).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from local_stack.signing import sign_event
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT, load_template

from tests.local.local_kit import EVENTS_DIR, load_event

SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"
SAMPLE_REFERENCE = "sample-order-1001"
SAMPLE_GATEWAY_REFERENCE = "C-113976984708914-P"
# What the poller reports when it had nothing to do (events/README.md).
IDLE_POLL = {"republished": 0, "checked": 0, "skippedForTime": 0, "gaveUp": 0, "outcomes": {}}
SAMPLES = {
    "create_payment.json": "CreatePaymentFunction",
    "create_refund.json": "CreateRefundFunction",
    "payment_status.json": "PaymentStatusFunction",
    "payment_methods.json": "PaymentMethodsFunction",
    "fulfilment.json": "FulfilmentFunction",
    "fulfilment_sender.json": "FulfilmentSenderFunction",
    "webhook_intake.json": "WebhookIntakeFunction",
    "refund_webhook.json": "WebhookIntakeFunction",
    "callback_redirect.json": "CallbackRedirectFunction",
    "status_poller.json": "StatusPollerFunction",
}


def invoke(stack: LocalStack, name: str, event: dict[str, Any] | None = None) -> Any:
    result = stack.invoke(SAMPLES[name], event if event is not None else load_event(name))
    assert result.ok, result.error
    return result.result


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


def sample_for(name: str, partner_reference: str) -> dict[str, Any]:
    """The sample about another payment, so that each test builds its own state (as `--setup` would)."""
    text = (EVENTS_DIR / name).read_text(encoding="utf-8")
    if name == "callback_redirect.json":  # the callback token proves the reference it was made for
        text = text.replace(_token(SAMPLE_REFERENCE), _token(partner_reference))
    event: dict[str, Any] = json.loads(text.replace(SAMPLE_REFERENCE, partner_reference))
    return event


def _token(partner_reference: str) -> str:
    """The callback token the local stack's functions make (its secret holds the sandbox's Signing Key)."""
    from pay1st_partner.payments.result_page import callback_token, derive_callback_key
    from pay1st_sandbox.config import DEFAULT_SIGNING_KEY

    return callback_token(derive_callback_key(DEFAULT_SIGNING_KEY), partner_reference)


def create(stack: LocalStack, partner_reference: str) -> dict[str, Any]:
    created = invoke(stack, "create_payment.json", sample_for("create_payment.json", partner_reference))
    assert created["statusCode"] == 201, created
    payment: dict[str, Any] = body(created)
    return payment


def poll(stack: LocalStack) -> Any:
    return invoke(stack, "status_poller.json")


def test_one_sample_per_function_and_route() -> None:
    template = load_template()
    functions = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert set(SAMPLES.values()) == functions
    assert {p.name for p in EVENTS_DIR.glob("*.json")} == set(SAMPLES)
    readme = (EVENTS_DIR / "README.md").read_text(encoding="utf-8")
    for name in SAMPLES:
        assert f"`{name}`" in readme, f"{name} is not documented in events/README.md"
    for name, function_id in SAMPLES.items():
        event = load_event(name)
        routes = [
            (e["Properties"]["Method"], e["Properties"]["Path"])
            for e in template["Resources"][function_id]["Properties"].get("Events", {}).values()
            if e["Type"] == "HttpApi"
        ]
        if routes:  # an HTTP API 2.0 event for one of the function's routes
            route = next((r for r in routes if " ".join(r) == event["routeKey"]), None)
            assert event["version"] == "2.0" and route is not None, event["routeKey"]
            assert event["requestContext"]["http"]["method"] == route[0]


def test_samples_on_a_fresh_stack(local_stack: LocalStack) -> None:
    methods = invoke(local_stack, "payment_methods.json")
    assert methods["statusCode"] == 200 and "groups" in methods["body"]

    status = invoke(local_stack, "payment_status.json")
    assert (status["statusCode"], body(status)["code"]) == (404, "payment_not_found")

    fulfilment = invoke(local_stack, "fulfilment.json")
    assert (fulfilment["statusCode"], body(fulfilment)["code"]) == (404, "payment_not_found")

    refund = invoke(local_stack, "create_refund.json")
    assert (refund["statusCode"], body(refund)["code"]) == (404, "payment_not_found")

    callback = invoke(local_stack, "callback_redirect.json")
    assert callback["statusCode"] == 302
    location = callback["headers"]["Location"]
    assert location.startswith(local_stack.result_page_url) and "error=unknown_payment" in location

    stale = invoke(local_stack, "webhook_intake.json")  # signed in 2026-01-15: far outside 5 minutes
    assert (stale["statusCode"], body(stale)["code"]) == (401, "stale_timestamp")
    fresh = invoke(
        local_stack, "webhook_intake.json", sign_event(load_event("webhook_intake.json"), SIGNING_KEY)
    )
    assert fresh["statusCode"] == 200 and body(fresh)["matched"] is False
    stale_refund = invoke(local_stack, "refund_webhook.json")
    assert (stale_refund["statusCode"], body(stale_refund)["code"]) == (401, "stale_timestamp")
    fresh_refund = invoke(
        local_stack, "refund_webhook.json", sign_event(load_event("refund_webhook.json"), SIGNING_KEY)
    )
    assert fresh_refund["statusCode"] == 200 and body(fresh_refund)["outcome"] == "unmatched"

    # Nothing recorded to deliver, ever: the sender dead-letters the message at once (no retry can help), so the
    # record is not reported failed; the DLQ holds its body.
    sender = invoke(local_stack, "fulfilment_sender.json")
    assert sender == {"batchItemFailures": []}
    sqs = local_stack.client("sqs")
    dlq = local_stack.provisioned.refs["FulfilmentDeadLetterQueue"]
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == [load_event("fulfilment_sender.json")["Records"][0]["body"]]
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=dead[0]["ReceiptHandle"])

    assert poll(local_stack) == IDLE_POLL  # no payment at all


def test_samples_after_create(local_stack: LocalStack) -> None:
    reference = "sample-after-create"
    payment = create(local_stack, reference)
    assert payment["partnerReference"] == reference and payment["status"] == "NEW"
    assert re.fullmatch(r"C-\d+-P", payment["reference"])
    assert payment["checkoutUrl"].startswith(local_stack.gateway_url)

    status = invoke(local_stack, "payment_status.json", sample_for("payment_status.json", reference))
    assert status["statusCode"] == 200 and body(status)["status"] == "NEW"

    callback = invoke(local_stack, "callback_redirect.json", sample_for("callback_redirect.json", reference))
    assert callback["statusCode"] == 302 and "status=NEW" in callback["headers"]["Location"]

    fulfilment = invoke(local_stack, "fulfilment.json", sample_for("fulfilment.json", reference))
    assert (fulfilment["statusCode"], body(fulfilment)["code"]) == (409, "payment_not_successful")

    # idempotent: same payment, no second gateway create
    again = invoke(local_stack, "create_payment.json", sample_for("create_payment.json", reference))
    assert again["statusCode"] == 201 and body(again)["reference"] == payment["reference"]

    # The poller leaves a payment alone until it is due (nextCheckAt: 60 s after its creation)...
    assert poll(local_stack) == IDLE_POLL
    # ...then asks the gateway about it (the sandbox still says NEW: nothing changes but the check time).
    # Ten minutes on: the callback's status query above no longer holds the payment's query slot either.
    local_stack.client("dynamodb").update_item(
        TableName="PaymentsTable",
        Key={"partnerReference": {"S": reference}},
        UpdateExpression="SET updatedAt = :then, lastQueryAt = :then, nextCheckAt = :then",
        ExpressionAttributeValues={":then": {"S": _iso(datetime.now(UTC) - timedelta(minutes=10))}},
    )
    assert poll(local_stack) == {**IDLE_POLL, "checked": 1, "outcomes": {"duplicate": 1}}
    status = invoke(local_stack, "payment_status.json", sample_for("payment_status.json", reference))
    assert body(status)["status"] == "NEW" and body(status)["lastCheckedAt"]
    assert poll(local_stack) == IDLE_POLL  # checked just now: not due again


def test_samples_after_payment(local_stack: LocalStack) -> None:
    assert local_stack.sandbox is not None
    control = local_stack.sandbox.control
    partner_reference = "sample-after-payment"
    reference = create(local_stack, partner_reference)["reference"]
    control.settle(reference, "pay")
    control.flush_webhooks(timeout=15)

    status = invoke(local_stack, "payment_status.json", sample_for("payment_status.json", partner_reference))
    assert status["statusCode"] == 200 and body(status)["status"] == "SUCCESSFUL"

    # The sample webhook, for the real payment, re-signed: a duplicate of what the gateway already sent.
    event = sample_for("webhook_intake.json", partner_reference)
    event["body"] = event["body"].replace(SAMPLE_GATEWAY_REFERENCE, reference)
    replay = invoke(local_stack, "webhook_intake.json", sign_event(event, SIGNING_KEY))
    assert replay["statusCode"] == 200 and body(replay)["received"] is True

    fulfilment = invoke(local_stack, "fulfilment.json", sample_for("fulfilment.json", partner_reference))
    assert fulfilment["statusCode"] == 202 and body(fulfilment)["fulfilmentStatus"] == "QUEUED"

    refund = invoke(local_stack, "create_refund.json", sample_for("create_refund.json", partner_reference))
    assert (
        refund["statusCode"] == 201
        and body(refund)["status"] == "PENDING"
        and body(refund)["amount"] == "100.00"
    )

    sender = invoke(
        local_stack, "fulfilment_sender.json", sample_for("fulfilment_sender.json", partner_reference)
    )
    assert sender == {"batchItemFailures": []}
    delivered = [f for f in control.fulfilments() if f["reference"] == reference]
    assert [p["sku"] for p in delivered[0]["products"]] == ["GEM-500"]

    callback = invoke(
        local_stack, "callback_redirect.json", sample_for("callback_redirect.json", partner_reference)
    )
    assert "status=SUCCESSFUL" in callback["headers"]["Location"]

    # Final, and its events published: nothing for the poller to check or re-publish.
    assert poll(local_stack) == IDLE_POLL


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_are_valid_json_without_local_urls(name: str) -> None:
    text = (PROJECT_ROOT / "events" / name).read_text(encoding="utf-8")
    json.loads(text)
    assert (
        "127.0.0.1" not in text and "localhost" not in text
    )  # the same file must work with sam local invoke


def test_functions_use_the_stack_name_as_their_metrics_service(local_stack: LocalStack) -> None:
    """POWERTOOLS_SERVICE_NAME is `!Ref AWS::StackName`, which the local stack resolves to `pay1st-local`."""
    services = {spec.environment["POWERTOOLS_SERVICE_NAME"] for spec in local_stack.functions.values()}
    assert services == {"pay1st-local"}
