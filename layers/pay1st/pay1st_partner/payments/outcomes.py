"""What confirming a reported status did to a payment: the outcome every caller answers or counts by.

Beyond the state verdicts ("applied", "duplicate", "stale", "conflict", "unknown_status"), these say why a
report was not applied (:func:`mismatch`: why a status answer does not describe a payment). ``reconcile``
produces them; the intakes, the poller and the operator tools read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pay1st.models import PaymentDetails

from pay1st_partner.records import PaymentRecord, Transition

AMOUNT_MISMATCH = "amount_mismatch"
REFERENCE_MISMATCH = "reference_mismatch"
GATEWAY_UNAVAILABLE = "gateway_unavailable"
GATEWAY_REJECTED = "gateway_rejected"
NO_REFERENCE = "no_reference"
QUERY_THROTTLED = "query_throttled"
REVERSED = "reversed"
# A confirmed answer whose write kept losing races to other writes (decided again on fresh reads, in vain).
WRITE_RACED = "write_raced"
# A report that could not be confirmed or recorded now: a signed webhook's is owed (and the poller's stays
# owed), so the poller confirms it later; never answered as done.
UNCONFIRMED = frozenset({QUERY_THROTTLED, GATEWAY_UNAVAILABLE, WRITE_RACED})


@dataclass(frozen=True)
class Outcome:
    """What a report or a refresh did to a payment."""

    outcome: str
    record: PaymentRecord
    transition: Transition | None = None
    gateway_status: str | None = None

    @property
    def applied(self) -> bool:
        return self.transition is not None and self.transition.applied


def mismatch(record: PaymentRecord, details: PaymentDetails) -> str | None:
    """Why a §9 answer does not describe ``record``'s current attempt (None when it does)."""
    if details.partner_reference != record.gateway_reference:
        return REFERENCE_MISMATCH
    if record.reference is not None and details.reference != record.reference:
        return REFERENCE_MISMATCH
    if details.amount != record.amount or details.currency_code != record.currency_code:
        return AMOUNT_MISMATCH
    return None
