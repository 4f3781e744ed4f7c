"""Refund statuses and the transitions allowed between them, as data plus pure functions (contract §15).

Like a payment's create, a refund starts with two internal statuses: ``CREATING`` (its refundReference is
claimed and the gateway call is in flight) and ``CREATE_UNKNOWN`` (that call ended without a definitive
answer; a refund webhook or a repeated request resolves it). Then the gateway's own, forward only:
``PENDING → PROCESSING → {SUCCESSFUL, FAILED, REJECTED}`` (``PENDING → final`` allowed, finals terminal).
The graph has no cycles, so each status is reached at most once, which makes the event ids stable.

What a refund holds of the payment: every refund that is not FAILED or REJECTED counts against what is
still refundable (succeeded ones for good, open and internal ones until they end).

Events (detail-types), each at most once per refund:

- ``Refund Requested``: the gateway accepted the refund (the first gateway status it reaches);
- ``Refund Succeeded``: SUCCESSFUL;
- ``Refund Failed``: FAILED or REJECTED (the detail's ``status`` says which).
"""

from __future__ import annotations

from collections.abc import Mapping

from pay1st.models import HandlingType, RefundStatus

# A refund's internal statuses are a payment's: the same claim, the same unknown outcome.
from pay1st_partner.state import CREATE_UNKNOWN as CREATE_UNKNOWN
from pay1st_partner.state import CREATING as CREATING
from pay1st_partner.state import INTERNAL_STATUSES as INTERNAL_STATUSES
from pay1st_partner.state import StatusGraph

PENDING = RefundStatus.PENDING
PROCESSING = RefundStatus.PROCESSING
SUCCESSFUL = RefundStatus.SUCCESSFUL
FAILED = RefundStatus.FAILED
REJECTED = RefundStatus.REJECTED

GATEWAY_STATUSES = RefundStatus.KNOWN_STATUSES
FINAL_STATUSES = RefundStatus.FINAL_STATUSES
ALL_STATUSES = INTERNAL_STATUSES | GATEWAY_STATUSES
# Statuses whose amount no longer counts against the payment.
RELEASED_STATUSES = frozenset({FAILED, REJECTED})

ALLOWED_TRANSITIONS: Mapping[str, frozenset[str]] = {
    CREATING: frozenset({CREATE_UNKNOWN}) | GATEWAY_STATUSES,
    CREATE_UNKNOWN: GATEWAY_STATUSES,
    PENDING: frozenset({PROCESSING}) | FINAL_STATUSES,
    PROCESSING: FINAL_STATUSES,
    SUCCESSFUL: frozenset(),
    FAILED: frozenset(),
    REJECTED: frozenset(),
}

REFUND_GRAPH = StatusGraph(frozenset(GATEWAY_STATUSES), frozenset(FINAL_STATUSES), ALLOWED_TRANSITIONS)
# The payment's rules, applied to the refund's graph.
is_final = REFUND_GRAPH.is_final
is_open = REFUND_GRAPH.is_open
can_transition = REFUND_GRAPH.can_transition
decide = REFUND_GRAPH.decide

REFUND_REQUESTED = "Refund Requested"
REFUND_SUCCEEDED = "Refund Succeeded"
REFUND_FAILED = "Refund Failed"
_FINAL_DETAIL_TYPES: Mapping[str, str] = {
    SUCCESSFUL: REFUND_SUCCEEDED,
    FAILED: REFUND_FAILED,
    REJECTED: REFUND_FAILED,
}


def counts_against_payment(status: str) -> bool:
    return status not in RELEASED_STATUSES


def reported_status(status: str, handling_type: str | None) -> str:
    """What a gateway report means: a refund the payment method cannot make (NO_REFUND) is REJECTED."""
    if handling_type == HandlingType.NO_REFUND and status in GATEWAY_STATUSES:
        return REJECTED
    return status


def detail_types(previous: str, status: str) -> tuple[str, ...]:
    """The events a transition ``previous → status`` emits, in order (none for PENDING → PROCESSING)."""
    found: list[str] = []
    if previous in INTERNAL_STATUSES and status in GATEWAY_STATUSES:
        found.append(REFUND_REQUESTED)
    if status in _FINAL_DETAIL_TYPES:
        found.append(_FINAL_DETAIL_TYPES[status])
    return tuple(found)
