"""POST /payments/{partnerReference}/refunds: the real handler on moto, against the Pay1st sandbox over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pay1st_partner import runtime

from tests.conftest import PUBLIC_BASE_URL
from tests.functions.outbound import Result, call, create, create_body, successful_payment

REFUND_ROUTE = "POST /api/pay1st/transactions/refunds/create"


def refund(
    http_event: Callable[..., dict[str, Any]], lambda_context: Any, partner_reference: str, body: Any
) -> Result:
    from functions.create_refund import app

    event = http_event(
        "POST",
        f"/payments/{partner_reference}/refunds",
        body=body,
        path_params={"partnerReference": partner_reference},
        route_key="POST /payments/{partnerReference}/refunds",
    )
    return call(app.lambda_handler, event, lambda_context)


def status(http_event: Callable[..., dict[str, Any]], lambda_context: Any, partner_reference: str) -> Result:
    from functions.payment_status import app

    event = http_event(
        "GET",
        f"/payments/{partner_reference}",
        path_params={"partnerReference": partner_reference},
        route_key="GET /payments/{partnerReference}",
    )
    return call(app.lambda_handler, event, lambda_context)


def gateway_refunds(sandbox: Any) -> int:
    return int(sandbox.control.counters().get(REFUND_ROUTE, 0))


@pytest.fixture
def paid(aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]]) -> str:
    """Given a payment of 250.50 ZAR, paid at the sandbox and recorded SUCCESSFUL."""
    successful_payment(http_event, lambda_context, sandbox, "order-paid")
    aws.published_events()  # drop the payment's own events
    return "order-paid"


def test_a_partial_refund_is_requested_announced_and_shown_on_the_payment(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]], paid: str
) -> None:
    # When a partial refund is requested
    result = refund(
        http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "100.00", "reason": "late"}
    )
    # Then the gateway has it (PENDING), with our refund webhook URL
    assert result.status == 201, result.body
    body = result.body
    assert (body["refundReference"], body["amount"], body["currencyCode"], body["status"]) == (
        "rf-1",
        "100.00",
        "ZAR",
        "PENDING",
    )
    assert body["pay1stRefundReference"].startswith("R-") and body["handlingType"] == "PSP_API"
    (held,) = sandbox.control.refunds()
    assert held["partnerRefundReference"] == "rf-1" and held["amount"] == Decimal("100.00")
    assert held["webhookUrl"] == f"{PUBLIC_BASE_URL}/webhooks/pay1st/refunds"
    # And "Refund Requested" was published once, with a stable id
    (event,) = aws.published_events()
    assert event["detail-type"] == "Refund Requested"
    assert event["detail"]["eventId"] == "order-paid:refund:rf-1:requested"
    # And the payment shows the refund and what is left
    view = status(http_event, lambda_context, paid).body
    assert [r["refundReference"] for r in view["refunds"]] == ["rf-1"]
    assert (view["refundedAmount"], view["refundableAmount"]) == ("0.00", "150.50")


def test_a_repeat_is_the_same_refund_without_a_second_gateway_call(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]], paid: str
) -> None:
    first = refund(http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "10.00"})
    again = refund(http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "10"})
    assert first.status == again.status == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert again.body == first.body and gateway_refunds(sandbox) == 1
    other = refund(http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "11.00"})
    assert (other.status, other.code) == (409, "refund_conflict")


def test_an_omitted_amount_refunds_everything_left_and_then_nothing_is_left(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]], paid: str
) -> None:
    assert (
        refund(http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "50.50"}).status == 201
    )
    rest = refund(http_event, lambda_context, paid, {"refundReference": "rf-2"})
    assert rest.status == 201 and rest.body["amount"] == "200.00"
    more = refund(http_event, lambda_context, paid, {"refundReference": "rf-3", "amount": "0.01"})
    assert (more.status, more.code) == (409, "payment_not_refundable")
    assert status(http_event, lambda_context, paid).body["refundableAmount"] == "0.00"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"refundReference": "rf-1", "amount": "0"}, "invalid_request"),
        ({"refundReference": "rf-1", "amount": "-5.00"}, "invalid_request"),
        ({"refundReference": "rf-1", "amount": "1.001"}, "invalid_request"),
        ({"refundReference": "rf-1", "amount": "250.51"}, "amount_exceeds_refundable"),
        ({"refundReference": "rf-1", "amount": "1e3"}, "invalid_request"),
        ({"refundReference": "rf-1", "amount": True}, "invalid_request"),
        ({"refundReference": "rf 1"}, "invalid_request"),
        ({"amount": "1.00"}, "invalid_request"),
        ({"refundReference": "rf-1", "currency": "ZAR"}, "invalid_request"),
        ("not json", "invalid_json"),
    ],
)
def test_bad_input_is_a_400_with_a_code_and_reaches_no_gateway(
    aws: Any,
    sandbox: Any,
    lambda_context: Any,
    http_event: Callable[..., dict[str, Any]],
    paid: str,
    body: Any,
    code: str,
) -> None:
    result = refund(http_event, lambda_context, paid, body)
    assert (result.status, result.code) == (400, code), result.body
    assert set(result.body) == {"code", "message"}
    assert gateway_refunds(sandbox) == 0


def test_a_payment_that_is_not_paid_or_not_ours_cannot_be_refunded(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    assert create(http_event, lambda_context, create_body("order-new")).status == 201
    result = refund(http_event, lambda_context, "order-new", {"refundReference": "rf-1"})
    assert (result.status, result.code) == (409, "payment_not_refundable")
    missing = refund(http_event, lambda_context, "order-none", {"refundReference": "rf-1"})
    assert (missing.status, missing.code) == (404, "payment_not_found")
    assert gateway_refunds(sandbox) == 0


def test_a_refund_reference_belongs_to_one_payment(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]], paid: str
) -> None:
    successful_payment(http_event, lambda_context, sandbox, "order-other")
    assert (
        refund(http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "1.00"}).status == 201
    )
    other = refund(http_event, lambda_context, "order-other", {"refundReference": "rf-1", "amount": "1.00"})
    assert (other.status, other.code) == (409, "refund_conflict")


def test_an_unknown_outcome_is_a_502_kept_unknown_and_a_repeat_resolves_it_with_one_refund(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]], paid: str
) -> None:
    # Given the gateway fails the refund request with a 500 (did it refund or not? we cannot know)
    sandbox.control.set_faults(rate_5xx={REFUND_ROUTE: 1.0})
    body = {"refundReference": "rf-1", "amount": "20.00"}
    result = refund(http_event, lambda_context, paid, body)
    assert (result.status, result.code) == (502, "refund_outcome_unknown")
    record = runtime.refunds().get(paid)
    assert record is not None and record.refund("rf-1").status == "CREATE_UNKNOWN"  # type: ignore[union-attr]
    assert record.refundable_amount == Decimal("230.50")  # still counted against the payment
    # When the same request is repeated once the gateway is back
    sandbox.control.clear_faults()
    again = refund(http_event, lambda_context, paid, body)
    # Then the refund exists once, and it is PENDING with the gateway's reference
    assert again.status == 201 and again.body["status"] == "PENDING" and again.body["pay1stRefundReference"]
    assert len(sandbox.control.refunds()) == 1
    # And a third request is a replay, never a second refund
    assert refund(http_event, lambda_context, paid, body).headers.get("Idempotent-Replayed") == "true"
    assert len(sandbox.control.refunds()) == 1


def test_a_refund_the_gateway_refuses_is_released(
    aws: Any, sandbox: Any, lambda_context: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a payment we recorded SUCCESSFUL that the gateway does not consider paid
    created = create(http_event, lambda_context, create_body("order-odd"))
    runtime.payments().apply_status(
        "order-odd", "SUCCESSFUL", source="test", reference=created.body["reference"]
    )
    # When a refund is requested, the gateway refuses it cleanly
    result = refund(http_event, lambda_context, "order-odd", {"refundReference": "rf-1"})
    assert (result.status, result.code) == (422, "gateway_rejected")
    assert "PAYMENT_NOT_REFUNDABLE" in result.body["message"]
    # Then nothing is reserved and the reference may be used again
    record = runtime.refunds().get("order-odd")
    assert record is not None and record.refunds == () and record.refundable_amount == Decimal("250.50")
    assert runtime.refunds().owner("rf-1") is None
    assert json.dumps(result.body).count("sessionId") == 0


def test_the_poller_reports_refunds_open_too_long(
    aws: Any,
    sandbox: Any,
    lambda_context: Any,
    http_event: Callable[..., dict[str, Any]],
    paid: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a refund still open (its webhook never came) and an age limit it has passed
    assert (
        refund(http_event, lambda_context, paid, {"refundReference": "rf-1", "amount": "1.00"}).status == 201
    )
    monkeypatch.setenv("REFUND_OPEN_ALARM_SECONDS", "0.01")
    runtime.reset()
    time.sleep(0.05)
    capsys.readouterr()
    # When the scheduled poller runs
    from functions.status_poller import app

    app.lambda_handler({}, lambda_context)
    # Then the metric the alarm watches counts it, and the log names it
    out = capsys.readouterr().out
    assert '"RefundsOpenTooLong":[1.0]' in out
    assert any("order-paid/rf-1" in record.refunds for record in caplog.records if hasattr(record, "refunds"))
