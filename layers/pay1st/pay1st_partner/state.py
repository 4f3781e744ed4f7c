"""Payment statuses and the transitions allowed between them, as data plus pure functions.

Two internal statuses come before the gateway's own (contract §9):

- ``CREATING``: the partnerReference is claimed and the gateway create call is in flight.
- ``CREATE_UNKNOWN``: the create call ended without a definitive answer; a later webhook (or a retried
  create) carrying our partnerReference and the gateway's reference adopts the payment.

The gateway's lifecycle is ``NEW → PENDING → {SUCCESSFUL, FAILED, CANCELLED, ABANDONED}``, ``NEW → final``
is allowed and finals are terminal. The graph has no cycles, so every status is reached at most once: that
is what makes ``"{partnerReference}:{status}"`` a stable, unique event id. Any other status the gateway
sends is *unknown*: recorded, never a transition, never paid.

The statuses of §9 beyond the six:

- ``PENDING_INVESTIGATION`` (a risk review) is a transition: open, never paid, its event tells the partner
  the customer is waiting; it may still end in any final status.
- The in-progress steps (``IN_PROGRESS_STATUSES``: PAY_OFFLINE, READY, SEND_OTP, ...) are open statuses
  treated like PENDING: never a transition (they come in any order and repeat, so they cannot be nodes of an
  acyclic graph), never paid, never final. :func:`decide` answers ``STEP`` for an open payment (the step is
  recorded beside the status as the gateway's latest word: ``pay1st_partner.payments.steps``) and ``STALE``
  for a final one (a late step says nothing about a settled payment).
- ``REFUND`` and ``CHARGEBACK`` (``REVERSAL_STATUSES``) are not transitions either: they can only follow
  SUCCESSFUL and are recorded beside it as a *reversal*, once the gateway's status query confirms them
  (``pay1st_partner.payments.reconcile``); the payment stays SUCCESSFUL in its history and is never payable or
  fulfillable again.

The repository turns :func:`decide` into conditional writes; nothing here touches AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pay1st.models import PaymentStatus

CREATING = "CREATING"
CREATE_UNKNOWN = "CREATE_UNKNOWN"
NEW = PaymentStatus.NEW
PENDING = PaymentStatus.PENDING
SUCCESSFUL = PaymentStatus.SUCCESSFUL
FAILED = PaymentStatus.FAILED
CANCELLED = PaymentStatus.CANCELLED
ABANDONED = PaymentStatus.ABANDONED
PENDING_INVESTIGATION = "PENDING_INVESTIGATION"
REFUND = "REFUND"
CHARGEBACK = "CHARGEBACK"
REVERSAL_STATUSES = frozenset({REFUND, CHARGEBACK})
IN_PROGRESS_STATUSES = frozenset(
    {"PAY_OFFLINE", "READY", "VALIDATED", "SEND_OTP", "SEND_PIN", "SEND_PHONE", "SEND_BIRTHDAY"}
    | {"SEND_VALIDATION_TOKEN"}
)

INTERNAL_STATUSES = frozenset({CREATING, CREATE_UNKNOWN})
# The gateway's own statuses (§9) come from the gateway client's models: one definition.
FINAL_STATUSES = PaymentStatus.FINAL_STATUSES
GATEWAY_STATUSES = PaymentStatus.KNOWN_STATUSES | {PENDING_INVESTIGATION}
ALL_STATUSES = INTERNAL_STATUSES | GATEWAY_STATUSES

# Where each status may go next. Adoption (CREATING/CREATE_UNKNOWN → any gateway status) happens when
# the gateway tells us about a payment whose create answer we never saw.
ALLOWED_TRANSITIONS: Mapping[str, frozenset[str]] = {
    CREATING: frozenset({CREATE_UNKNOWN}) | GATEWAY_STATUSES,
    CREATE_UNKNOWN: GATEWAY_STATUSES,
    NEW: frozenset({PENDING, PENDING_INVESTIGATION}) | FINAL_STATUSES,
    PENDING: frozenset({PENDING_INVESTIGATION}) | FINAL_STATUSES,
    PENDING_INVESTIGATION: FINAL_STATUSES,
    SUCCESSFUL: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
    ABANDONED: frozenset(),
}


class Verdict(StrEnum):
    """What to do with a reported status, given the current one."""

    APPLY = "applied"  # an allowed transition: write it (conditionally) and emit its event
    SAME = "duplicate"  # already in that status: acknowledge, nothing to do
    STALE = "stale"  # an earlier status arriving late (out of order): acknowledge, nothing to do
    CONFLICT = "conflict"  # a different final after a final: record it and alarm, never apply
    UNKNOWN = "unknown_status"  # not a status we know: record it, never apply
    STEP = "in_progress"  # an in-progress step of an open payment: record it beside the status, never apply


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    current: str
    reported: str

    @property
    def applies(self) -> bool:
        return self.verdict is Verdict.APPLY


@dataclass(frozen=True)
class StatusGraph:
    """A forward-only status graph: the gateway's statuses, the final ones and where each may go next.

    Payments and refunds each have one (``PAYMENT_GRAPH`` here, ``refund_state.REFUND_GRAPH``); both are
    decided by the same :meth:`decide`.
    """

    gateway_statuses: frozenset[str]
    final_statuses: frozenset[str]
    transitions: Mapping[str, frozenset[str]]

    def is_final(self, status: str) -> bool:
        return status in self.final_statuses

    def is_open(self, status: str) -> bool:
        """Open = may still change; internal statuses are open too (they wait for the gateway)."""
        known = status in INTERNAL_STATUSES or status in self.gateway_statuses
        return known and status not in self.final_statuses

    def can_transition(self, current: str, target: str) -> bool:
        return target in self.transitions.get(current, frozenset())

    def decide(self, current: str, reported: str) -> Decision:
        """Classify a reported gateway status against the current one."""
        if reported not in self.gateway_statuses:
            verdict = Verdict.UNKNOWN
        elif reported == current:
            verdict = Verdict.SAME
        elif self.can_transition(current, reported):
            verdict = Verdict.APPLY
        elif current in self.final_statuses and reported in self.final_statuses:
            verdict = Verdict.CONFLICT
        else:
            verdict = Verdict.STALE
        return Decision(verdict=verdict, current=current, reported=reported)


PAYMENT_GRAPH = StatusGraph(frozenset(GATEWAY_STATUSES), frozenset(FINAL_STATUSES), ALLOWED_TRANSITIONS)


is_final = PAYMENT_GRAPH.is_final
is_open = PAYMENT_GRAPH.is_open
can_transition = PAYMENT_GRAPH.can_transition


def decide(current: str, reported: str) -> Decision:
    """:meth:`StatusGraph.decide` for payments, with the in-progress steps (§9) beside the graph."""
    if reported in IN_PROGRESS_STATUSES:
        return Decision(Verdict.STALE if is_final(current) else Verdict.STEP, current, reported)
    return PAYMENT_GRAPH.decide(current, reported)


# EventBridge detail-type per status reached; NEW has none (see pay1st_partner.events).
DETAIL_TYPES: Mapping[str, str] = {
    PENDING: "Payment Pending",
    PENDING_INVESTIGATION: "Payment Under Investigation",
    SUCCESSFUL: "Payment Succeeded",
    FAILED: "Payment Failed",
    CANCELLED: "Payment Cancelled",
    ABANDONED: "Payment Abandoned",
}


def detail_type(status: str) -> str | None:
    return DETAIL_TYPES.get(status)


# The one event for every in-progress step ("the customer is mid-payment"), rate-limited per payment.
STEP_DETAIL_TYPE = "Payment In Progress"
