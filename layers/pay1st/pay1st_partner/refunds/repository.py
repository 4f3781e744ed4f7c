"""Refunds and reversals as domain rules over the payments store (contract §15, §16).

Refunds are records on their payment (layout and the reason: :mod:`pay1st_partner.store.items`), so each
rule here is one conditional write on the payment item, decided on a read and retried on a lost race,
like :class:`pay1st_partner.payments.repository.PaymentRepository` does for payment statuses:

- a claim reserves the refund's amount with the condition ``refundReserved <= amount - refund``: right
  whatever happened since our read, so concurrent claims can never together exceed the payment;
- a refund's status moves only forward (:mod:`pay1st_partner.refund_state`) with the condition "its status
  is still what I read", its events committed in the same write (the payment's outbox);
- a reversal (REFUND, CHARGEBACK) is recorded once, on a SUCCESSFUL payment, with its event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pay1st.iso import currency_minor_units

from pay1st_partner import refund_state, state
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.errors import DomainError, InvalidRequest, PaymentConflict, PaymentNotFound
from pay1st_partner.events import refund_events, reversal_event
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord, ReferenceMismatch, RefundRecord, amount_text
from pay1st_partner.store.items import MAX_REFUNDS_PER_PAYMENT, REQUESTED_ALL, refund_entry
from pay1st_partner.store.port import PaymentStore, RefundChange, ReversalChange

_MAX_WRITE_ATTEMPTS = 10


class RefundNotFound(DomainError):
    code = "refund_not_found"
    http_status = 404

    def __init__(self, message: str = "No refund with this refundReference.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class RefundClaim:
    created: bool  # False: the refundReference already named this refund (an idempotent repeat)
    payment: PaymentRecord
    refund: RefundRecord


@dataclass(frozen=True)
class RefundTransition:
    verdict: state.Verdict
    previous_status: str
    status: str  # the status reported (NO_REFUND already read as REJECTED)
    payment: PaymentRecord
    refund: RefundRecord
    events: tuple[OutboxEvent, ...] = ()

    @property
    def applied(self) -> bool:
        return self.verdict is state.Verdict.APPLY


def _not_refundable(message: str) -> PaymentConflict:
    return PaymentConflict(message, code="payment_not_refundable")


def refund_amount(payment: PaymentRecord, requested: Decimal | None) -> Decimal:
    """What a refund of ``requested`` (None: all that is left) comes to; 409/400 when it cannot be made."""
    if payment.status != state.SUCCESSFUL:
        raise _not_refundable(f"The payment is {payment.status}, not SUCCESSFUL.")
    if payment.reversals:
        kinds = " and ".join(sorted(payment.reversals))
        raise _not_refundable(f"The payment was reversed at Pay1st ({kinds}).")
    refundable = payment.refundable_amount
    if refundable <= 0:
        raise _not_refundable("Nothing is left to refund: the payment is fully refunded (or being refunded).")
    if len(payment.refunds) >= MAX_REFUNDS_PER_PAYMENT:
        raise PaymentConflict(
            f"A payment can have at most {MAX_REFUNDS_PER_PAYMENT} refunds.", code="too_many_refunds"
        )
    if requested is None:
        return refundable
    places = currency_minor_units(payment.currency_code)
    if requested != requested.quantize(Decimal(1).scaleb(-places)):
        raise InvalidRequest(f"amount: has more than {places} decimal places for {payment.currency_code}")
    if requested > refundable:
        raise InvalidRequest(
            f"amount: at most {amount_text(refundable)} {payment.currency_code} can still be refunded",
            code="amount_exceeds_refundable",
        )
    return requested


class RefundRepository:
    def __init__(self, store: PaymentStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def _now(self) -> str:
        return isoformat(self._clock())

    def _require(self, partner_reference: str) -> PaymentRecord:
        record = self._store.get(partner_reference)
        if record is None:
            raise PaymentNotFound()
        return record

    def get(self, partner_reference: str) -> PaymentRecord | None:
        return self._store.get(partner_reference)

    def owner(self, refund_reference: str) -> str | None:
        """The partnerReference of the payment holding this refundReference."""
        return self._store.refund_owner(refund_reference)

    # ------------------------------------------------------------ claim

    def claim(
        self, partner_reference: str, refund_reference: str, requested: Decimal | None, reason: str | None
    ) -> RefundClaim:
        """Claim ``refund_reference`` on the payment and reserve its amount (a CREATING refund).

        A repeat of the same request returns the refund already claimed (``created`` False); the same
        refundReference for another amount or another payment is a 409 ``refund_conflict``.
        """
        payment = self._require(partner_reference)
        if payment.refund(refund_reference) is None:
            if self._store.claim_refund_reference(refund_reference, partner_reference) != partner_reference:
                raise PaymentConflict(
                    "This refundReference is already used for another payment.", code="refund_conflict"
                )
        for _ in range(_MAX_WRITE_ATTEMPTS):
            existing = payment.refund(refund_reference)
            if existing is not None:
                if not _same_request(existing, requested):
                    raise PaymentConflict(
                        "This refundReference is already used for a refund of another amount.",
                        code="refund_conflict",
                    )
                return RefundClaim(False, payment, existing)
            try:
                amount = refund_amount(payment, requested)
            except DomainError:
                fresh = self._require(partner_reference)
                if fresh.refund(refund_reference) is not None:  # the same request, concurrently: a repeat
                    payment = fresh
                    continue
                self._store.release_refund_reference(refund_reference, partner_reference)
                raise
            now = self._now()
            entry = refund_entry(refund_reference, amount, requested, payment.currency_code, reason, now)
            after = self._store.add_refund(
                partner_reference, entry, reserve_up_to=payment.amount - amount, at=now
            )
            if after is not None:
                claimed = after.refund(refund_reference)
                assert claimed is not None
                return RefundClaim(True, after, claimed)
            payment = self._require(partner_reference)  # something changed since our read: decide again
        raise RuntimeError("could not claim the refund after repeated races")

    def release(self, partner_reference: str, refund: RefundRecord) -> None:
        """The gateway refused the refund cleanly: forget it and give its amount back."""
        if self._store.remove_refund(partner_reference, refund.refund_reference, refund.amount, self._now()):
            self._store.release_refund_reference(refund.refund_reference, partner_reference)

    def mark_unknown(self, partner_reference: str, refund_reference: str) -> None:
        """CREATING → CREATE_UNKNOWN (ours alone, no event); a no-op once anything moved it on."""
        record = self._store.get(partner_reference)
        refund = None if record is None else record.refund(refund_reference)
        if record is None or refund is None or refund.status != refund_state.CREATING:
            return
        change = RefundChange(
            partner_reference,
            refund_reference,
            refund_state.CREATING,
            refund_state.CREATE_UNKNOWN,
            refund.amount,
            "create",
            self._now(),
        )
        self._store.write_refund_transition(change)

    # ------------------------------------------------------------ transitions

    def apply_status(
        self,
        partner_reference: str,
        refund_reference: str,
        status: str,
        *,
        source: str,
        pay1st_refund_reference: str | None = None,
        handling_type: str | None = None,
    ) -> RefundTransition:
        """Report a gateway status for a refund; applied only forward, its events in the same write.

        Raises :class:`PaymentNotFound` / :class:`RefundNotFound`, and :class:`ReferenceMismatch` when the
        report names another Pay1st refund reference than the one recorded.
        """
        reported = refund_state.reported_status(status, handling_type)
        for _ in range(_MAX_WRITE_ATTEMPTS):
            payment = self._require(partner_reference)
            refund = payment.refund(refund_reference)
            if refund is None:
                raise RefundNotFound()
            known = refund.pay1st_refund_reference
            if pay1st_refund_reference and known and known != pay1st_refund_reference:
                raise ReferenceMismatch(f"refund {refund_reference} has another Pay1st refund reference")
            decision = refund_state.decide(refund.status, reported)
            if not decision.applies:
                return RefundTransition(decision.verdict, refund.status, reported, payment, refund)
            now = self._now()
            events = refund_events(
                refund,
                reported,
                reference=payment.reference,
                pay1st_refund_reference=pay1st_refund_reference,
                handling_type=handling_type,
                occurred_at=now,
            )
            change = RefundChange(
                partner_reference,
                refund_reference,
                refund.status,
                reported,
                refund.amount,
                source,
                now,
                pay1st_refund_reference=None if known else pay1st_refund_reference,
                handling_type=handling_type if handling_type != refund.handling_type else None,
                events=events,
            )
            after = self._store.write_refund_transition(change)
            if after is not None:
                written = after.refund(refund_reference)
                assert written is not None
                after, fully = self._fully_refunded(after)
                events += () if fully is None else (fully,)
                return RefundTransition(state.Verdict.APPLY, refund.status, reported, after, written, events)
        raise RuntimeError("could not apply the refund status after repeated races")

    # ------------------------------------------------------------ reversals, outbox, reports

    def record_reversal(
        self, record: PaymentRecord, kind: str, *, source: str
    ) -> tuple[PaymentRecord, OutboxEvent | None]:
        """Record a confirmed REFUND/CHARGEBACK once; the record after it and its event (None: nothing new)."""
        now = self._now()
        event = reversal_event(record, kind, occurred_at=now)
        after = self._store.record_reversal(
            ReversalChange(record.partner_reference, kind, source, now, event)
        )
        if after is None:
            return self._require(record.partner_reference), None
        return after, event

    def _fully_refunded(self, payment: PaymentRecord) -> tuple[PaymentRecord, OutboxEvent | None]:
        """Our own refunds now cover the whole amount: the payment is fully refunded (the REFUND reversal,
        ``Payment Refunded``) before Pay1st's reversal arrives; that one then finds it recorded (one event).
        A separate write: lost with a crash, Pay1st's reversal (owed if need be) still records it."""
        if payment.refunded_amount < payment.amount or state.REFUND in payment.reversals:
            return payment, None
        return self.record_reversal(payment, state.REFUND, source="refunds")

    def clear_event(self, partner_reference: str, event_id: str) -> None:
        self._store.clear_event(partner_reference, event_id)

    def open_too_long(self, *, older_than: datetime, limit: int) -> list[PaymentRecord]:
        """Payments with a refund open since before ``older_than`` (there is no refund status query)."""
        return self._store.open_refund_payments(older_than=isoformat(older_than), limit=limit)


def _same_request(refund: RefundRecord, requested: Decimal | None) -> bool:
    if refund.requested == REQUESTED_ALL or requested is None:
        return refund.requested == REQUESTED_ALL and requested is None
    return Decimal(refund.requested) == requested
