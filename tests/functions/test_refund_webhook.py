"""POST /webhooks/pay1st/refunds: the real handler on moto, with the sandbox's real signed refund webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pay1st.signing import format_timestamp, sign
from pay1st_partner import runtime

from tests.conftest import SANDBOX_CREDENTIALS, FakeLambdaContext
from tests.functions.inbound import ApiBridge, api_bridge, call
from tests.functions.outbound import create, create_body
from tests.functions.test_create_refund import refund

PATH = "/webhooks/pay1st/refunds"


def handler() -> Any:
    from functions.webhook_intake import app

    return app.lambda_handler


@pytest.fixture
def bridge(aws: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiBridge]:
    """Both webhook routes on loopback, and our public base URL pointing there (so refundWebhookUrl does)."""
    with api_bridge({("POST", PATH): handler(), ("POST", "/webhooks/pay1st"): handler()}) as running:
        monkeypatch.setenv("PUBLIC_BASE_URL", running.base_url)
        runtime.reset()
        yield running


def paid_payment(sandbox: Any, http_event: Callable[..., dict[str, Any]], partner_reference: str) -> str:
    """Given a payment created through the handler, paid, and confirmed SUCCESSFUL by its real webhook."""
    created = create(http_event, FakeLambdaContext(), create_body(partner_reference))
    assert created.status == 201, created.body
    sandbox.control.settle(created.body["reference"], "pay")
    sandbox.control.flush_webhooks()
    record = runtime.payments().get(partner_reference)
    assert record is not None and record.status == "SUCCESSFUL"
    return str(created.body["reference"])


def refund_status(partner_reference: str, refund_reference: str) -> str:
    record = runtime.refunds().get(partner_reference)
    refund_record = None if record is None else record.refund(refund_reference)
    assert refund_record is not None
    return refund_record.status


def wait_for_refund(
    partner_reference: str, refund_reference: str, status: str, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while refund_status(partner_reference, refund_reference) != status:
        assert time.monotonic() < deadline, refund_status(partner_reference, refund_reference)
        time.sleep(0.1)


def signed(
    body: bytes, at: datetime | None = None, key: str = SANDBOX_CREDENTIALS["signingKey"]
) -> dict[str, str]:
    timestamp = format_timestamp(at or datetime.now(UTC))
    return {"X-SIGNATURE": sign(key, timestamp, body), "X-TIMESTAMP": timestamp}


def event_body(refund_reference: str, reference: str, status: str, **fields: Any) -> bytes:
    return json.dumps(
        {
            "partnerRefundReference": refund_reference,
            "transactionReference": reference,
            "status": status,
            **fields,
        }
    ).encode()


def post(http_event: Callable[..., dict[str, Any]], body: bytes, headers: dict[str, str]) -> Any:
    return call(handler(), http_event("POST", PATH, body=body, headers=headers))


def event_types(aws: Any) -> list[str]:
    return [e["detail-type"] for e in aws.published_events()]


def test_a_refund_settles_through_its_signed_webhooks_announced_once_each(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a paid payment, refunded in part; and a gateway delivering every webhook twice and reversed
    paid_payment(sandbox, http_event, "order-rf")
    aws.published_events()
    sandbox.control.set_faults(
        webhook_duplicate_rate=1.0, webhook_reorder="reverse", webhook_reorder_window=4
    )
    created = refund(
        http_event, FakeLambdaContext(), "order-rf", {"refundReference": "rf-1", "amount": "100.00"}
    )
    assert created.status == 201
    # When the refund settles at the gateway (PROCESSING, then SUCCESSFUL, each delivered twice, reversed)
    deadline = time.monotonic() + 10
    while len(sandbox.control.webhook_deliveries()) < 5:  # the payment's one; then four refund ones
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sandbox.control.flush_webhooks()
    # Then every delivery was acknowledged, the refund is SUCCESSFUL, never regressed, each event once
    refund_hooks = [d for d in sandbox.control.webhook_deliveries() if d["url"].endswith(PATH)]
    assert len(refund_hooks) == 4 and {d["attempts"][-1]["statusCode"] for d in refund_hooks} == {200}
    assert refund_status("order-rf", "rf-1") == "SUCCESSFUL"
    assert sorted(event_types(aws)) == ["Refund Requested", "Refund Succeeded"]
    record = runtime.refunds().get("order-rf")
    assert record is not None and record.refunded_amount == Decimal("100.00")


@pytest.mark.parametrize(("outcome", "final"), [("FAILED", "FAILED"), ("REJECTED", "REJECTED")])
def test_failed_and_rejected_refunds_are_announced_and_give_the_amount_back(
    aws: Any,
    sandbox: Any,
    bridge: ApiBridge,
    http_event: Callable[..., dict[str, Any]],
    outcome: str,
    final: str,
) -> None:
    paid_payment(sandbox, http_event, "order-rf")
    sandbox.control.set_faults(refund_outcome=outcome)
    aws.published_events()
    assert refund(http_event, FakeLambdaContext(), "order-rf", {"refundReference": "rf-1"}).status == 201
    wait_for_refund("order-rf", "rf-1", final)
    sandbox.control.flush_webhooks()
    events = aws.published_events()
    assert sorted(e["detail-type"] for e in events) == ["Refund Failed", "Refund Requested"]
    assert next(e for e in events if e["detail-type"] == "Refund Failed")["detail"]["status"] == final
    record = runtime.refunds().get("order-rf")
    assert record is not None and record.refundable_amount == Decimal("250.50")


def test_an_unknown_refund_outcome_is_resolved_by_its_webhook(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a refund whose request the gateway made, but whose answer we lost
    reference = paid_payment(sandbox, http_event, "order-rf")
    repo = runtime.refunds()
    repo.claim("order-rf", "rf-lost", Decimal("10.00"), None)
    repo.mark_unknown("order-rf", "rf-lost")
    # When Pay1st's notification for it arrives (signed)
    body = event_body(
        "rf-lost", reference, "PROCESSING", refundReference="R-9", amount=10.00, currencyCode="ZAR"
    )
    result = post(http_event, body, signed(body))
    # Then it is adopted: the gateway's reference and status, and the partner told it was requested
    assert (
        result.status == 200 and result.body["outcome"] == "applied" and result.body["status"] == "PROCESSING"
    )
    record = repo.get("order-rf")
    assert record is not None and record.refund("rf-lost").pay1st_refund_reference == "R-9"  # type: ignore[union-attr]
    assert event_types(aws)[-1:] == ["Refund Requested"]


def test_no_refund_handling_ends_rejected(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    reference = paid_payment(sandbox, http_event, "order-rf")
    runtime.refunds().claim("order-rf", "rf-1", Decimal("10.00"), None)
    body = event_body("rf-1", reference, "PENDING", handlingType="NO_REFUND")
    result = post(http_event, body, signed(body))
    assert result.status == 200 and result.body["status"] == "REJECTED"


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"transactionReference": "C-999-P"}, "reference_mismatch"),
        ({"amount": 11.00}, "amount_mismatch"),
        ({"partnerRefundReference": "rf-unknown"}, "unmatched"),
        ({"status": "PAID_OUT"}, "unknown_status"),
    ],
)
def test_events_that_do_not_describe_our_refund_change_nothing(
    aws: Any,
    sandbox: Any,
    bridge: ApiBridge,
    http_event: Callable[..., dict[str, Any]],
    changes: dict[str, Any],
    outcome: str,
) -> None:
    reference = paid_payment(sandbox, http_event, "order-rf")
    runtime.refunds().claim("order-rf", "rf-1", Decimal("10.00"), None)
    aws.published_events()
    document = {"partnerRefundReference": "rf-1", "transactionReference": reference, "status": "SUCCESSFUL"}
    body = json.dumps({**document, "amount": 10.00, **changes}).encode()
    result = post(http_event, body, signed(body))
    assert result.status == 200 and result.body["outcome"] == outcome
    assert refund_status("order-rf", "rf-1") == "CREATING" and aws.published_events() == []


def test_forged_stale_and_flooding_events_are_401_and_touch_nothing(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    reference = paid_payment(sandbox, http_event, "order-rf")
    runtime.refunds().claim("order-rf", "rf-1", Decimal("10.00"), None)

    def kept() -> tuple[int, int]:
        """(webhook records, kept rejections): rejections are kept a week, one item per distinct body."""
        ids = [item["eventId"]["S"] for item in aws.dynamodb.scan(TableName="WebhookEventsTable")["Items"]]
        rejected = sum(1 for key in ids if key.startswith("rejected#"))
        return sum(1 for key in ids if not key.startswith("rejected")), rejected

    recorded_before, _ = kept()
    # Forged (another key), for a refund that exists and for one that does not: the same answer
    answers = set()
    for refund_reference in ("rf-1", "rf-nope", *(f"rf-{i}" for i in range(30))):
        body = event_body(refund_reference, reference, "SUCCESSFUL")
        result = post(http_event, body, signed(body, key="not-the-signing-key"))
        answers.add((result.status, json.dumps(result.body)))
    assert answers == {
        (
            401,
            json.dumps(
                {"code": "invalid_signature", "message": "The webhook signature could not be verified."}
            ),
        )
    }
    # Unsigned, and a captured event replayed ten minutes later
    body = event_body("rf-1", reference, "SUCCESSFUL")
    assert post(http_event, body, {}).body["code"] == "missing_signature"
    stale = post(http_event, body, signed(body, at=datetime.now(UTC) - timedelta(minutes=10)))
    assert (stale.status, stale.body["code"]) == (401, "stale_timestamp")
    # Nothing recorded as a webhook, nothing changed; each distinct forged body is kept once as a rejection
    assert kept() == (recorded_before, 31)  # rf-1 is sent twice (once by name, once as rf-{1})
    assert refund_status("order-rf", "rf-1") == "CREATING"


def test_a_replayed_event_is_a_recorded_duplicate_that_emits_nothing(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    reference = paid_payment(sandbox, http_event, "order-rf")
    runtime.refunds().claim("order-rf", "rf-1", Decimal("10.00"), None)
    aws.published_events()
    body = event_body("rf-1", reference, "SUCCESSFUL", refundReference="R-1")
    first = post(http_event, body, signed(body))
    again = post(http_event, body, signed(body))
    assert first.body["outcome"] == "applied" and "duplicate" not in first.body
    assert again.body == {**first.body, "duplicate": True, "outcome": "duplicate"}
    assert sorted(event_types(aws)) == ["Refund Requested", "Refund Succeeded"]


def test_bad_bodies_are_4xx_never_500(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    for body, code in (
        (b"not json", "invalid_json"),
        (b'{"status": "SUCCESSFUL"}', "invalid_request"),
        (
            b'{"partnerRefundReference": "\\ud800", "transactionReference": "C-1-P", "status": "X"}',
            "invalid_request",
        ),
        (
            b'{"partnerRefundReference": "r", "transactionReference": "C-1-P", "status": "X", "amount": "x"}',
            "invalid_request",
        ),
    ):
        result = post(http_event, body, signed(body))
        assert (result.status, result.body["code"]) == (400, code)
    huge = b"{" + b" " * (70 * 1024) + b"}"
    assert post(http_event, huge, signed(huge)).status == 413


def test_an_unsigned_event_in_signature_mode_off_is_recorded_never_applied(
    aws: Any,
    sandbox: Any,
    bridge: ApiBridge,
    http_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = paid_payment(sandbox, http_event, "order-rf")
    runtime.refunds().claim("order-rf", "rf-1", Decimal("10.00"), None)
    monkeypatch.setenv("WEBHOOK_SIGNATURE_MODE", "off")
    runtime.reset()
    result = post(http_event, event_body("rf-1", reference, "SUCCESSFUL"), {})
    assert result.status == 200 and result.body["outcome"] == "unsigned_ignored"
    assert refund_status("order-rf", "rf-1") == "CREATING"
