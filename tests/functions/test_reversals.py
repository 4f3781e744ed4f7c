"""Payment webhooks after SUCCESSFUL (contract §9, §16): chargebacks, full refunds, risk reviews; real handlers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pay1st_partner import runtime

from tests.conftest import FakeLambdaContext
from tests.functions.inbound import STATUS_QUERY_ROUTE, ApiBridge, call, route_count
from tests.functions.outbound import create, create_body
from tests.functions.test_create_refund import refund, status
from tests.functions.test_refund_webhook import bridge, paid_payment, signed, wait_for_refund
from tests.functions.test_status_poller import poll

__all__ = ["bridge"]  # the fixture, shared


@pytest.fixture(autouse=True)
def quick_query_interval(monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    # A reversal here follows the payment within milliseconds (in life: days); the per-payment status-query
    # interval on the same scale. The interval's own effect on reversals has its own test below.
    monkeypatch.setenv("STATUS_QUERY_MIN_INTERVAL_SECONDS", "0.01")
    runtime.reset()


def post_payment_webhook(http_event: Callable[..., dict[str, Any]], body: bytes) -> Any:
    from functions.webhook_intake import app

    return call(app.lambda_handler, http_event("POST", "/webhooks/pay1st", body=body, headers=signed(body)))


def fulfil(http_event: Callable[..., dict[str, Any]], partner_reference: str) -> Any:
    from functions.fulfilment import app

    body = {
        "products": [
            {
                "sku": "GEM-500",
                "quantity": 1,
                "fulfilmentStatus": "FULFILLED",
                "fulfilmentTime": "2026-01-15T10:35:00Z",
            }
        ]
    }
    event = http_event(
        "POST",
        f"/payments/{partner_reference}/fulfilment",
        body=body,
        path_params={"partnerReference": partner_reference},
        route_key="POST /payments/{partnerReference}/fulfilment",
    )
    return call(app.lambda_handler, event)


def test_a_chargeback_is_confirmed_recorded_announced_once_and_ends_refunds_and_fulfilment(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a paid payment
    reference = paid_payment(sandbox, http_event, "order-cb")
    aws.published_events()
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When the customer disputes it and Pay1st's CHARGEBACK webhook arrives
    sandbox.control.chargeback(reference)
    sandbox.control.flush_webhooks()
    # Then it was confirmed by one status query, recorded beside SUCCESSFUL, and announced
    assert route_count(sandbox, STATUS_QUERY_ROUTE) - queries == 1
    record = runtime.payments().get("order-cb")
    assert record is not None and record.status == "SUCCESSFUL" and set(record.reversals) == {"CHARGEBACK"}
    (event,) = aws.published_events()
    assert (
        event["detail-type"] == "Payment Charged Back" and event["detail"]["eventId"] == "order-cb:CHARGEBACK"
    )
    view = status(http_event, FakeLambdaContext(), "order-cb").body
    assert view["chargeback"]["status"] == "CHARGEBACK" and view["refundableAmount"] == "0.00"
    # And a replay changes nothing and costs no status query
    [delivery] = [
        d for d in sandbox.control.webhook_deliveries() if json.loads(d["body"])["status"] == "CHARGEBACK"
    ]
    replay = post_payment_webhook(http_event, delivery["body"].encode())
    assert replay.status == 200 and route_count(sandbox, STATUS_QUERY_ROUTE) - queries == 1
    assert aws.published_events() == []
    # And the payment can be neither refunded nor fulfilled any more
    refused = refund(http_event, FakeLambdaContext(), "order-cb", {"refundReference": "rf-1"})
    assert (refused.status, refused.code) == (409, "payment_not_refundable")
    assert fulfil(http_event, "order-cb").status == 409


def test_a_full_refund_shows_as_refund_on_the_payment(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    paid_payment(sandbox, http_event, "order-full")
    aws.published_events()
    assert refund(http_event, FakeLambdaContext(), "order-full", {"refundReference": "rf-all"}).status == 201
    wait_for_refund("order-full", "rf-all", "SUCCESSFUL")
    sandbox.control.flush_webhooks()
    record = runtime.payments().get("order-full")
    assert record is not None and set(record.reversals) == {"REFUND"}
    assert sorted(e["detail-type"] for e in aws.published_events()) == [
        "Payment Refunded",
        "Refund Requested",
        "Refund Succeeded",
    ]


def test_a_reversal_the_gateway_does_not_confirm_is_not_recorded(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a paid payment, and a signed CHARGEBACK event the gateway's status query does not bear out
    reference = paid_payment(sandbox, http_event, "order-ok")
    aws.published_events()
    body = json.dumps(
        {
            "partnerReference": "order-ok",
            "reference": reference,
            "orderAmount": 250.50,
            "currencyCode": "ZAR",
            "countryCode": "ZA",
            "status": "CHARGEBACK",
        }
    ).encode()
    result = post_payment_webhook(http_event, body)
    assert result.status == 200 and result.body["status"] == "SUCCESSFUL"
    record = runtime.payments().get("order-ok")
    assert record is not None and record.reversals == {} and aws.published_events() == []


def test_a_risk_review_is_open_never_paid_and_told_to_the_partner(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    created = create(http_event, FakeLambdaContext(), create_body("order-review"))
    aws.published_events()
    body = json.dumps(
        {
            "partnerReference": "order-review",
            "reference": created.body["reference"],
            "orderAmount": 250.50,
            "currencyCode": "ZAR",
            "countryCode": "ZA",
            "status": "PENDING_INVESTIGATION",
        }
    ).encode()
    result = post_payment_webhook(http_event, body)
    assert result.status == 200 and result.body["status"] == "PENDING_INVESTIGATION"
    record = runtime.payments().get("order-review")
    assert record is not None and record.is_open and not record.is_final
    (event,) = aws.published_events()
    assert event["detail-type"] == "Payment Under Investigation"
    assert fulfil(http_event, "order-review").status == 409


def test_a_reversal_within_the_query_interval_is_owed_and_the_poller_records_it_with_no_redelivery(
    aws: Any,
    sandbox: Any,
    bridge: ApiBridge,
    http_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a payment just confirmed SUCCESSFUL (its status-query slot taken), with a 60 s query interval,
    When Pay1st reports a CHARGEBACK at once and never delivers it again,
    Then the webhook is answered 2xx only once the confirmation is owed on the payment, and the poller,
    once the slot is free, confirms and records the chargeback, once (the old code answered 503 and relied
    on a redelivery)."""
    monkeypatch.setenv("STATUS_QUERY_MIN_INTERVAL_SECONDS", "60")
    runtime.reset()
    reference = paid_payment(sandbox, http_event, "order-cb-soon")
    aws.published_events()
    sandbox.control.set_faults(webhook_drop_rate=1.0)  # its own delivery dropped: we post its body once
    sandbox.control.chargeback(reference)
    sandbox.control.flush_webhooks()
    [delivery] = [
        d for d in sandbox.control.webhook_deliveries() if json.loads(d["body"])["status"] == "CHARGEBACK"
    ]
    first = post_payment_webhook(http_event, delivery["body"].encode())
    assert (first.status, first.body["outcome"]) == (200, "confirmation_owed")
    record = runtime.payments().get("order-cb-soon")
    assert record is not None and set(record.reversals) == set() and aws.published_events() == []
    assert record.owed == {reference: {**record.owed[reference], "reported": "CHARGEBACK"}}
    assert record.owed[reference]["attemptReference"] == "order-cb-soon"
    # When the slot frees (its time and the payment's due time moved back past the interval, not slept)
    aws.dynamodb.update_item(
        TableName=aws.tables["PaymentsTable"],
        Key={"partnerReference": {"S": "order-cb-soon"}},
        UpdateExpression="SET lastQueryAt = :then, nextCheckAt = :then",
        ExpressionAttributeValues={":then": {"S": "2020-01-01T00:00:00.000Z"}},
    )
    report = poll()
    assert report["outcomes"] == {"reversed": 1}
    record = runtime.payments().get("order-cb-soon")
    assert record is not None and set(record.reversals) == {"CHARGEBACK"} and record.owed == {}
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Charged Back"]
    # And the paid payment is off the schedule again: the next run has nothing to do
    assert poll()["checked"] == 0
