"""What confirming a reported status did to a payment: the outcome every caller answers or counts by.

Beyond the state verdicts ("applied", "duplicate", "stale", "conflict", "unknown_status"), these say why a
report was not applied. ``reconcile`` produces them; the intakes, the poller and the operator tools read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pay1st_partner.records import PaymentRecord, Transition

AMOUNT_MISMATCH = "amount_mismatch"
REFERENCE_MISMATCH = "reference_mismatch"
GATEWAY_UNAVAILABLE = "gateway_unavailable"
GATEWAY_REJECTED = "gateway_rejected"
NO_REFERENCE = "no_reference"
QUERY_THROTTLED = "query_throttled"
REVERSED = "reversed"


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
