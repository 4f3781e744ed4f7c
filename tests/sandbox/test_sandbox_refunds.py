"""§15 refunds and §16 chargebacks at the sandbox: as strict as the other routes, settling by themselves."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pay1st_sandbox import SandboxControlError, SandboxServer
from sandbox_kit import (
    PAYMENT,
    SIGNING_KEY,
    GatewayClient,
    Received,
    WebhookReceiver,
    assert_gateway_error,
    hmac_hex,
    to_json,
)

REFUND = "application/vnd.carry1st.payments.refund+json"
REFUND_PATH = "/api/pay1st/transactions/refunds/create"


@pytest.fixture
def server(start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver) -> SandboxServer:
    """Refunds settle 50 ms after they are requested; payment webhooks go to the receiver."""
    return start_sandbox(default_webhook_url=receiver.url, refund_settle_seconds=0.05)


def paid(gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver) -> tuple[str, dict[str, Any]]:
    """Given a paid payment of 250.50 ZAR (its SUCCESSFUL webhook already received)."""
    token, created = gw.new_payment()
    before = len(receiver.received)
    server.control.settle(created["reference"], "pay")
    receiver.wait_for(before + 1)
    return token, created


def refund_body(reference: str, receiver: WebhookReceiver, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transactionReference": reference,
        "partnerRefundReference": f"refund-{uuid.uuid4().hex[:10]}",
        "amount": Decimal("100.00"),
        "reason": "customer asked",
        "refundWebhookUrl": receiver.url + "/refunds",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def refund(gw: GatewayClient, token: str | None, body: dict[str, Any] | bytes, **options: Any) -> Any:
    raw = body if isinstance(body, bytes) else to_json(body)
    return gw.signed(REFUND_PATH, token, raw, content_type=options.pop("content_type", REFUND), **options)


def refund_hooks(receiver: WebhookReceiver, count: int, timeout: float = 5.0) -> list[Received]:
    """The refund webhooks received (at least ``count`` of them, waiting up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        received = [r for r in list(receiver.received) if r.path.endswith("/refunds")]
        if len(received) >= count:
            return received
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} refund webhooks, got {len(received)}")
        time.sleep(0.02)


def test_a_refund_is_answered_pending_then_settles_by_itself_with_signed_webhooks(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    # Given a paid payment
    token, created = paid(gw, server, receiver)
    body = refund_body(created["reference"], receiver)
    # When a partial refund is requested
    reply = refund(gw, token, body)
    # Then it is accepted as PENDING with the documented fields
    assert reply.status == 201, reply.data
    assert reply.headers["Content-Type"].startswith(REFUND)
    document = reply.json()
    assert document["status"] == "PENDING" and document["handlingType"] == "PSP_API"
    assert document["amount"] == Decimal("100.00") and document["currencyCode"] == "ZAR"
    assert document["transactionReference"] == created["reference"]
    assert document["partnerReference"] == created["partnerReference"]
    assert document["partnerRefundReference"] == body["partnerRefundReference"]
    assert document["fullRefund"] is False and document["refundReference"].startswith("R-")
    # And it settles by itself: PROCESSING, then SUCCESSFUL, each signed like a payment webhook
    hooks = refund_hooks(receiver, 2)
    assert [h.json()["status"] for h in hooks] == ["PROCESSING", "SUCCESSFUL"]
    for hook in hooks:
        stamp = hook.headers["x-timestamp"]
        assert hook.headers["x-signature"] == hmac_hex(SIGNING_KEY, stamp, hook.body)
        event = hook.json()
        assert event["partnerRefundReference"] == body["partnerRefundReference"]
        assert event["refundReference"] == document["refundReference"]
        assert event["transactionReference"] == created["reference"]
    (held,) = server.control.refunds()
    assert held["status"] == "SUCCESSFUL" and [h["status"] for h in held["history"]] == [
        "PENDING",
        "PROCESSING",
        "SUCCESSFUL",
    ]
    # A partial refund leaves the payment SUCCESSFUL
    assert gw.status(token, created["reference"]).json()["status"] == "SUCCESSFUL"
    (received,) = server.control.refunds_received()
    assert received["signatureValid"] is True and received["status"] == 201


def test_a_full_refund_moves_the_payment_to_refund(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token, created = paid(gw, server, receiver)
    # When everything is refunded in two parts (the second without an amount: all that is left)
    assert (
        refund(gw, token, refund_body(created["reference"], receiver, amount=Decimal("50.50"))).status == 201
    )
    rest = refund(gw, token, refund_body(created["reference"], receiver, amount=None))
    assert rest.status == 201 and rest.json()["amount"] == Decimal("200.00")
    refund_hooks(receiver, 4)
    server.control.flush_webhooks()
    # Then the status query shows REFUND and a payment webhook said so
    assert gw.status(token, created["reference"]).json()["status"] == "REFUND"
    payment_hooks = [r.json()["status"] for r in receiver.received if not r.path.endswith("/refunds")]
    assert payment_hooks[-1] == "REFUND"


def test_refund_outcomes_are_chosen_by_a_fault(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token, created = paid(gw, server, receiver)
    # FAILED: processing, then failed; the amount is refundable again afterwards
    server.control.set_faults(refund_outcome="FAILED")
    assert refund(gw, token, refund_body(created["reference"], receiver, amount=None)).status == 201
    assert [h.json()["status"] for h in refund_hooks(receiver, 2)] == ["PROCESSING", "FAILED"]
    # REJECTED: the payment method cannot be refunded (handlingType NO_REFUND)
    server.control.set_faults(refund_outcome="REJECTED")
    rejected = refund(gw, token, refund_body(created["reference"], receiver, amount=None))
    assert rejected.status == 201 and rejected.json()["handlingType"] == "NO_REFUND"
    assert [h.json()["status"] for h in refund_hooks(receiver, 3)][-1] == "REJECTED"
    # PSP_MANUAL: processing, then nothing until a person (the control API) finishes it
    server.control.set_faults(refund_outcome="PSP_MANUAL")
    manual = refund(gw, token, refund_body(created["reference"], receiver, amount=None)).json()
    assert manual["handlingType"] == "PSP_MANUAL"
    assert refund_hooks(receiver, 4)[-1].json()["status"] == "PROCESSING"
    server.control.settle_refund(manual["partnerRefundReference"], "SUCCESSFUL")
    assert refund_hooks(receiver, 5)[-1].json()["status"] == "SUCCESSFUL"
    with pytest.raises(SandboxControlError) as error:
        server.control.settle_refund(manual["refundReference"], "FAILED")
    assert error.value.status == 409


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"content_type": PAYMENT}, 405, "UNSUPPORTED_MEDIA_TYPE"),
        ({"token": None}, 401, "MISSING_TOKEN"),
        ({"signature": "0" * 64}, 400, "INVALID_SIGNATURE"),
        ({"body": b"[1]"}, 400, "INVALID_JSON"),
        ({"fields": {"transactionReference": None}}, 400, "INVALID_REQUEST"),
        ({"fields": {"partnerRefundReference": None}}, 400, "INVALID_REQUEST"),
        ({"fields": {"amount": Decimal("0")}}, 400, "INVALID_REQUEST"),
        ({"fields": {"amount": Decimal("1.005")}}, 400, "INVALID_REQUEST"),
        ({"fields": {"amount": Decimal("250.51")}}, 400, "AMOUNT_EXCEEDS_REFUNDABLE"),
        ({"fields": {"transactionReference": "C-1-P"}}, 400, "UNKNOWN_REFERENCE"),
        ({"fields": {"refundWebhookUrl": "ftp://x"}}, 400, "INVALID_REQUEST"),
    ],
)
def test_the_refund_endpoint_is_as_strict_as_the_others(
    gw: GatewayClient,
    server: SandboxServer,
    receiver: WebhookReceiver,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token, created = paid(gw, server, receiver)
    body = refund_body(created["reference"], receiver, **change.get("fields", {}))
    options = {k: v for k, v in change.items() if k in ("content_type", "signature")}
    reply = refund(gw, change.get("token", token), change.get("body", body), **options)
    assert_gateway_error(reply, status, code)
    assert server.control.refunds() == []
    (received,) = server.control.refunds_received()
    assert received["status"] == status and received["errorCode"] == code
    if code == "INVALID_SIGNATURE":
        assert received["signatureValid"] is False


def test_a_partner_refund_reference_is_used_once_and_only_paid_payments_are_refunded(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token, created = paid(gw, server, receiver)
    body = refund_body(created["reference"], receiver, amount=Decimal("1.00"))
    assert refund(gw, token, body).status == 201
    assert_gateway_error(refund(gw, token, body), 400, "DUPLICATE_PARTNER_REFUND_REFERENCE")
    _, unpaid = gw.new_payment(token)
    assert_gateway_error(
        refund(gw, token, refund_body(unpaid["reference"], receiver)), 400, "PAYMENT_NOT_REFUNDABLE"
    )
    assert len(server.control.refunds()) == 1


def test_a_chargeback_is_a_payment_webhook_and_shows_in_the_status_query(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token, created = paid(gw, server, receiver)
    # When the customer disputes the paid payment
    server.control.chargeback(created["partnerReference"])
    # Then the payment webhook reports CHARGEBACK, signed, and the status query agrees
    (_, hook) = receiver.wait_for(2)
    assert hook.json()["status"] == "CHARGEBACK" and hook.json()["reference"] == created["reference"]
    assert hook.headers["x-signature"] == hmac_hex(SIGNING_KEY, hook.headers["x-timestamp"], hook.body)
    assert gw.status(token, created["reference"]).json()["status"] == "CHARGEBACK"
    # And nothing more can be refunded
    assert_gateway_error(
        refund(gw, token, refund_body(created["reference"], receiver)), 400, "PAYMENT_NOT_REFUNDABLE"
    )


def test_only_a_paid_payment_can_be_charged_back(gw: GatewayClient, server: SandboxServer) -> None:
    _, created = gw.new_payment()
    with pytest.raises(SandboxControlError) as error:
        server.control.chargeback(created["reference"])
    assert error.value.status == 409
