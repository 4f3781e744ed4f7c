"""The refund use case's rules, on the in-memory payments store (no AWS): fast, and the same contract as DynamoDB."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from pay1st.models import CreatedRefund, RefundRequest
from pay1st_partner.errors import PaymentConflict
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.create import RefundCommand, create_refund
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.memory.store import InMemoryPaymentStore

from tests.partner.helpers import Clock, created_payment, payment_request


class _Publisher:
    def __init__(self) -> None:
        self.sent: list[OutboxEvent] = []

    def publish(self, events: Sequence[OutboxEvent], outbox: Any) -> list[OutboxEvent]:
        self.sent.extend(events)
        for event in events:
            outbox.clear_event(event.partner_reference, event.event_id)
        return list(events)


class _GatewayRacedByAWebhook:
    """Answers the refund request with one Pay1st reference after a webhook adopted another one."""

    def __init__(self, refunds: RefundRepository) -> None:
        self._refunds = refunds

    def create_refund(self, request: RefundRequest, *, deadline: float | None = None) -> CreatedRefund:
        self._refunds.apply_status(
            "order-1001",
            request.partner_refund_reference or "",
            "PENDING",
            source="webhook",
            pay1st_refund_reference="R-FROM-WEBHOOK",
        )
        return CreatedRefund.from_dict(
            {
                "refundReference": "R-FROM-CREATE",
                "transactionReference": request.transaction_reference,
                "partnerRefundReference": request.partner_refund_reference,
                "amount": "10.00",
                "status": "PENDING",
            }
        )


def test_a_create_answer_naming_another_pay1st_refund_than_a_webhook_adopted_is_a_409_not_a_500() -> None:
    # Given a paid payment on the in-memory store
    clock, store = Clock(), InMemoryPaymentStore()
    payments, refunds = PaymentRepository(store, clock=clock), RefundRepository(store, clock=clock)
    request = payment_request()
    payments.claim(request, fingerprint(request), None)
    payments.mark_created("order-1001", created_payment(request))
    payments.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    # When the refund's create answer names another Pay1st refund than the webhook that beat it
    with pytest.raises(PaymentConflict) as caught:
        create_refund(
            "order-1001",
            RefundCommand("rf-1", Decimal("10.00"), None),
            base_url="https://api.example",
            refunds=refunds,
            gateway=_GatewayRacedByAWebhook(refunds),  # type: ignore[arg-type]
            publisher=_Publisher(),  # type: ignore[arg-type]
        )
    # Then it is a clear conflict, and the adopted reference is kept
    assert caught.value.code == "refund_conflict" and caught.value.http_status == 409
    payment = refunds.get("order-1001")
    refund = None if payment is None else payment.refund("rf-1")
    assert refund is not None and refund.pay1st_refund_reference == "R-FROM-WEBHOOK"
