"""The payment domain's records: what a payment is, what a claim and a status change return.

Plain frozen dataclasses, mapped from and to storage by the stores (``payment_items``); nothing here
knows about DynamoDB. Money is ``Decimal`` and goes back out as the text the partner wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pay1st.models import FulfilmentItem, MetadataItem, Product

from pay1st_partner import refund_state, state
from pay1st_partner.clock import parse_iso

if TYPE_CHECKING:
    from pay1st_partner.outbox import OutboxEvent


def amount_text(value: Decimal) -> str:
    """An amount as written by the partner, in plain notation (``250.50`` stays ``250.50``)."""
    return format(value, "f")


@dataclass(frozen=True)
class RefundRecord:
    """One refund of a payment, keyed by the partner's ``refundReference`` (see ``payment_items``)."""

    refund_reference: str
    partner_reference: str
    amount: Decimal
    requested: str  # the amount the partner asked for as text, or "ALL" (the request's fingerprint)
    currency_code: str
    reason: str | None
    status: str
    pay1st_refund_reference: str | None
    handling_type: str | None
    created_at: str
    updated_at: str

    @property
    def is_open(self) -> bool:
        return refund_state.is_open(self.status)


class ReferenceMismatch(Exception):
    """A status report names a different Pay1st reference than the one stored for the partnerReference."""


@dataclass(frozen=True)
class PaymentRecord:
    partner_reference: str
    reference: str | None
    status: str
    amount: Decimal
    currency_code: str
    country_code: str
    products: tuple[Product, ...]
    metadata: tuple[MetadataItem, ...]
    fingerprint: str
    channel_id: str | None
    created_at: str
    updated_at: str
    last_checked_at: str | None
    fulfilment: Mapping[str, Any] | None
    # Beyond the agreed API: diagnostics the status route and the tests read.
    last_unknown_status: str | None = None
    conflicts: tuple[Mapping[str, Any], ...] = ()
    pending_event_ids: tuple[str, ...] = field(default=())
    # After SUCCESSFUL (contract §15, §16): refunds, their running totals, and reversals (REFUND, CHARGEBACK)
    # the gateway confirmed, keyed by kind.
    refunds: tuple[RefundRecord, ...] = ()
    refund_reserved: Decimal = Decimal(0)  # refunds SUCCESSFUL or still open
    refunded_amount: Decimal = Decimal(0)  # refunds SUCCESSFUL
    reversals: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The newest status queries to the gateway, oldest first (``statusQueries`` in ``payment_items``);
    # None: the item predates that history (its first entry writes the map whole).
    status_queries: tuple[Mapping[str, Any], ...] | None = None
    # Attempts (README "Attempts", ``pay1st_partner.payments.attempts``): the reference the current attempt was
    # created under at Pay1st (None: the partnerReference itself), the earlier attempts it superseded
    # (``{partnerReference, supersededAt, reason}``, plus ``reference``/``paidAt`` once one is confirmed
    # paid), and whether two attempts were paid (one needs a refund).
    attempt_reference: str | None = None
    attempts: tuple[Mapping[str, Any], ...] = ()
    double_paid: bool = False
    # When the last attempt (MAX_ATTEMPTS) was refused as a duplicate too: no checkout link can exist for any
    # attempt, so the payment ends there (a repeat answers 409 attempts_exhausted); a paid attempt still counts.
    attempts_exhausted_at: str | None = None
    # Confirmations owed (README "Owed confirmations", ``pay1st_partner.payments.owed``): by the Pay1st
    # reference to query, ``{attemptReference, reported, since}``: a reported status not yet confirmed.
    owed: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # In-progress steps (contract §9, ``pay1st_partner.payments.steps``): the latest one the gateway reported
    # (``{status, at, during}``, ``during`` = the payment's status then), and when each step was told.
    step: Mapping[str, Any] | None = None
    steps_told: Mapping[str, str] = field(default_factory=dict)
    # The latest ``C-…-T`` transaction id Pay1st sent for the payment (§15: what a refund may have to name).
    transaction_id: str | None = None
    # When it is next due on the watch list (``nextCheckAt``; None: not watched); from a read of the list, the
    # index's value it was found at: where a poll run's next read of the list starts.
    next_check_at: str | None = None

    @property
    def current_step(self) -> str | None:
        """The gateway's latest in-progress step, while it is still the latest word: the payment is open and
        has not changed status since (a step reported before PENDING says nothing once PENDING is known)."""
        if self.step is None or not self.is_open or self.step.get("during") != self.status:
            return None
        return str(self.step["status"])

    @property
    def gateway_reference(self) -> str:
        """The partnerReference Pay1st knows the current attempt by."""
        return self.attempt_reference or self.partner_reference

    def refund(self, refund_reference: str) -> RefundRecord | None:
        return next((r for r in self.refunds if r.refund_reference == refund_reference), None)

    @property
    def refundable_amount(self) -> Decimal:
        """What may still be refunded: nothing unless paid and not reversed."""
        if self.status != state.SUCCESSFUL or self.reversals:
            return Decimal(0)
        return max(Decimal(0), self.amount - self.refund_reserved)

    @property
    def is_open(self) -> bool:
        return state.is_open(self.status)

    @property
    def is_final(self) -> bool:
        return state.is_final(self.status)

    def fulfilment_items(self) -> tuple[FulfilmentItem, ...]:
        """The recorded fulfilment as the gateway client's items (for the §12 notification)."""
        if not self.fulfilment:
            return ()
        return tuple(
            FulfilmentItem(
                sku=item["sku"],
                quantity=int(item["quantity"]),
                fulfilment_time=parse_iso(item["fulfilmentTime"]),
                fulfilment_status=item["fulfilmentStatus"],
            )
            for item in self.fulfilment.get("items", ())
        )


@dataclass(frozen=True)
class Claim:
    created: bool  # False → ``record`` is the payment that already held this partnerReference
    record: PaymentRecord


@dataclass(frozen=True)
class Transition:
    """The result of reporting a status: whether it was applied and the event it produced, if any."""

    verdict: state.Verdict
    previous_status: str
    status: str  # the reported status
    record: PaymentRecord  # the item after the write (or as read, when nothing was written)
    event: OutboxEvent | None = None

    @property
    def applied(self) -> bool:
        return self.verdict is state.Verdict.APPLY
