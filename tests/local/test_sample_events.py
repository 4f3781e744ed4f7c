"""Every sample in events/ invoked through the runner, with the outcome events/README.md documents.

The samples are the shapes `sam local generate-event` produces, so they work with `sam local invoke -e` too.
Some outcomes need state: the tests create it as a user would (`--setup`/`--settle` on the command line).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from local_stack.signing import sign_event
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT, load_template

from tests.local.local_kit import EVENTS_DIR, load_event

SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"
SAMPLES = {
    "create_payment.json": "CreatePaymentFunction",
    "payment_status.json": "PaymentStatusFunction",
    "payment_methods.json": "PaymentMethodsFunction",
    "fulfilment.json": "FulfilmentFunction",
    "fulfilment_sender.json": "FulfilmentSenderFunction",
    "webhook_intake.json": "WebhookIntakeFunction",
    "callback_redirect.json": "CallbackRedirectFunction",
    "status_poller.json": "StatusPollerFunction",
}


def invoke(stack: LocalStack, name: str, event: dict[str, Any] | None = None) -> Any:
    result = stack.invoke(SAMPLES[name], event if event is not None else load_event(name))
    assert result.ok, result.error
    return result.result


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


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
        if routes:  # an HTTP API 2.0 event for the function's route
            assert event["version"] == "2.0" and f"{event['routeKey']}" == " ".join(routes[0])
            assert event["requestContext"]["http"]["method"] == routes[0][0]


def test_samples_on_a_fresh_stack(local_stack: LocalStack) -> None:
    methods = invoke(local_stack, "payment_methods.json")
    assert methods["statusCode"] == 200 and "groups" in methods["body"]

    status = invoke(local_stack, "payment_status.json")
    assert (status["statusCode"], body(status)["code"]) == (404, "payment_not_found")

    fulfilment = invoke(local_stack, "fulfilment.json")
    assert (fulfilment["statusCode"], body(fulfilment)["code"]) == (404, "payment_not_found")

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

    # Nothing recorded to deliver: the record is reported failed, so SQS would retry it (then dead-letter it).
    sender = invoke(local_stack, "fulfilment_sender.json")
    message_id = load_event("fulfilment_sender.json")["Records"][0]["messageId"]
    assert sender == {"batchItemFailures": [{"itemIdentifier": message_id}]}

    poller = local_stack.invoke("StatusPollerFunction", load_event("status_poller.json"))
    assert poller.ok, poller.error


def test_samples_after_create(local_stack: LocalStack) -> None:
    created = invoke(local_stack, "create_payment.json")
    assert created["statusCode"] == 201
    payment = body(created)
    assert payment["partnerReference"] == "sample-order-1001" and payment["status"] == "NEW"
    assert re.fullmatch(r"C-\d+-P", payment["reference"])
    assert payment["checkoutUrl"].startswith(local_stack.gateway_url)

    status = invoke(local_stack, "payment_status.json")
    assert status["statusCode"] == 200 and body(status)["status"] == "NEW"

    callback = invoke(local_stack, "callback_redirect.json")
    assert callback["statusCode"] == 302 and "status=NEW" in callback["headers"]["Location"]

    fulfilment = invoke(local_stack, "fulfilment.json")
    assert (fulfilment["statusCode"], body(fulfilment)["code"]) == (409, "payment_not_successful")

    again = invoke(local_stack, "create_payment.json")  # idempotent: same payment, no second gateway create
    assert again["statusCode"] == 201 and body(again)["reference"] == payment["reference"]


def test_samples_after_payment(local_stack: LocalStack) -> None:
    assert local_stack.sandbox is not None
    control = local_stack.sandbox.control
    reference = control.payment("sample-order-1001")["reference"]
    control.settle(reference, "pay")
    control.flush_webhooks(timeout=15)

    status = invoke(local_stack, "payment_status.json")
    assert status["statusCode"] == 200 and body(status)["status"] == "SUCCESSFUL"

    # The sample webhook, for the real payment, re-signed: a duplicate of what the gateway already sent.
    event = load_event("webhook_intake.json")
    event["body"] = event["body"].replace("C-113976984708914-P", reference)
    replay = invoke(local_stack, "webhook_intake.json", sign_event(event, SIGNING_KEY))
    assert replay["statusCode"] == 200 and body(replay)["received"] is True

    fulfilment = invoke(local_stack, "fulfilment.json")
    assert fulfilment["statusCode"] == 202 and body(fulfilment)["fulfilmentStatus"] == "QUEUED"

    sender = invoke(local_stack, "fulfilment_sender.json")
    assert sender == {"batchItemFailures": []}
    delivered = [f for f in control.fulfilments() if f["reference"] == reference]
    assert [p["sku"] for p in delivered[0]["products"]] == ["GEM-500"]

    callback = invoke(local_stack, "callback_redirect.json")
    assert "status=SUCCESSFUL" in callback["headers"]["Location"]

    poller = local_stack.invoke("StatusPollerFunction", load_event("status_poller.json"))
    assert poller.ok, poller.error


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_are_valid_json_without_local_urls(name: str) -> None:
    text = (PROJECT_ROOT / "events" / name).read_text(encoding="utf-8")
    json.loads(text)
    assert (
        "127.0.0.1" not in text and "localhost" not in text
    )  # the same file must work with sam local invoke
