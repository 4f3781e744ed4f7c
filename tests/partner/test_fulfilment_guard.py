"""Guards on our own books (issue 21): fulfilment is refused with a code that says why when our refunds cover
the payment, or it is charged back or under a reversal; a full refund by our own refunds records the REFUND
reversal (one ``Payment Refunded``) before Pay1st's arrives. On DynamoDB (moto) and in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pay1st.models import FulfilmentItem
from pay1st_partner.errors import PaymentConflict
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.repository import RefundRepository

from tests.partner.test_payment_store_contract import paid, refunds, repo, store

__all__ = ["paid", "refunds", "repo", "store"]  # the contract's fixtures, on both stores

ITEMS = [FulfilmentItem(sku="GEM-500", quantity=1, fulfilment_time=datetime(2026, 1, 15, tzinfo=UTC))]


def refund(refunds: RefundRepository, reference: str, amount: str, status: str = "SUCCESSFUL") -> Any:
    refunds.claim("order-1001", reference, Decimal(amount), None)
    refunds.apply_status(
        "order-1001", reference, "PENDING", source="create", pay1st_refund_reference=f"R-{reference}"
    )
    if status == "PENDING":
        return None
    return refunds.apply_status("order-1001", reference, status, source="webhook")


def refused_code(repo: PaymentRepository) -> str | None:
    with pytest.raises(PaymentConflict) as refused:
        repo.record_fulfilment("order-1001", ITEMS)
    return refused.value.code


def test_a_payment_our_refunds_cover_refuses_fulfilment_before_pay1sts_reversal(
    repo: PaymentRepository, refunds: RefundRepository, paid: Callable[..., Any]
) -> None:
    """Given a paid payment refunded in two parts by our own refunds (no reversal from Pay1st yet),
    When the partner reports a fulfilment, Then it is refused 409 payment_refunded (the old code accepted it)."""
    paid()
    refund(refunds, "r-1", "200.00")
    refund(refunds, "r-2", "50.50")
    assert refused_code(repo) == "payment_refunded"


def test_refunds_still_in_progress_that_cover_the_amount_refuse_fulfilment(
    repo: PaymentRepository, refunds: RefundRepository, paid: Callable[..., Any]
) -> None:
    paid()
    refund(refunds, "r-1", "250.50", status="PENDING")
    assert refused_code(repo) == "payment_refunded"


def test_a_partial_refund_still_allows_fulfilment(
    repo: PaymentRepository, refunds: RefundRepository, paid: Callable[..., Any]
) -> None:
    paid()
    refund(refunds, "r-1", "250.49")
    assert repo.record_fulfilment("order-1001", ITEMS).fulfilment is not None


@pytest.mark.parametrize(
    ("kind", "code"), [("CHARGEBACK", "payment_charged_back"), ("REFUND", "payment_refunded")]
)
def test_a_reversed_payment_refuses_fulfilment_with_its_reason(
    repo: PaymentRepository, refunds: RefundRepository, paid: Callable[..., Any], kind: str, code: str
) -> None:
    """Given a paid payment Pay1st reversed, When a fulfilment is reported, Then the 409 names the reversal
    (the old code answered fulfilment_conflict: 'a different fulfilment is already recorded', though none was)."""
    record = paid()
    refunds.record_reversal(record, kind, source="webhook")
    assert refused_code(repo) == code


def test_a_full_refund_by_our_refunds_records_the_refund_reversal_once(
    repo: PaymentRepository, refunds: RefundRepository, paid: Callable[..., Any]
) -> None:
    """Given a paid payment, When our own refunds reach its whole amount, Then it is fully refunded at once
    (REFUND reversal with its Payment Refunded event in the transition's events), and Pay1st's reversal
    arriving later finds it recorded: no second event."""
    paid()
    refund(refunds, "r-1", "100.00")
    transition = refund(refunds, "r-2", "150.50")
    assert [e.detail_type for e in transition.events] == ["Refund Succeeded", "Payment Refunded"]
    assert set(transition.payment.reversals) == {"REFUND"} and transition.payment.refundable_amount == 0
    record = repo.get("order-1001")
    assert record is not None
    _, event = refunds.record_reversal(record, "REFUND", source="webhook")
    assert event is None
