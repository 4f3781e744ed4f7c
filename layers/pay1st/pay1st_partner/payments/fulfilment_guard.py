"""Whether a payment may be fulfilled, by our own books: one rule for the request and for the write's refusal.

Only a SUCCESSFUL payment is fulfilled, and never one whose money is going or gone back: charged back, under
a reversal Pay1st confirmed, or covered by our own refunds (SUCCESSFUL or still open: ``refundReserved``),
whether or not Pay1st's REFUND reversal has arrived yet. Each refusal has its own code, so the partner's
fulfilment service can tell "not paid yet" from "refunded" from "charged back".
"""

from __future__ import annotations

from pay1st_partner import state
from pay1st_partner.errors import PaymentConflict
from pay1st_partner.records import PaymentRecord

PAYMENT_NOT_SUCCESSFUL = "payment_not_successful"
PAYMENT_REFUNDED = "payment_refunded"
PAYMENT_CHARGED_BACK = "payment_charged_back"
PAYMENT_REVERSED = "payment_reversed"


def refusal(record: PaymentRecord) -> PaymentConflict | None:
    """Why ``record`` may not be fulfilled (a 409), or None when it may."""
    if record.status != state.SUCCESSFUL:
        return PaymentConflict(
            f"The payment is {record.status}, not SUCCESSFUL: nothing may be fulfilled yet.",
            code=PAYMENT_NOT_SUCCESSFUL,
        )
    if state.CHARGEBACK in record.reversals:
        return PaymentConflict(
            "The payment was charged back: nothing may be fulfilled.", code=PAYMENT_CHARGED_BACK
        )
    if state.REFUND in record.reversals or record.refund_reserved >= record.amount:
        return PaymentConflict(
            "The payment is fully refunded (or its refunds in progress cover it): nothing may be fulfilled.",
            code=PAYMENT_REFUNDED,
        )
    if record.reversals:
        kinds = ", ".join(sorted(record.reversals))
        return PaymentConflict(f"The payment is under a reversal ({kinds}).", code=PAYMENT_REVERSED)
    return None
