"""The payments the domain sees: claims, status changes and fulfilment records, as rules over a store.

Every status change reads the payment, asks :func:`pay1st_partner.state.decide`, then writes through the
store with the condition "status is still what I read". A lost race simply re-reads and decides again, so
duplicates and out-of-order reports need no locks and can never regress a status. The store
(:class:`pay1st_partner.store.port.PaymentStore`: DynamoDB in Lambda, in memory in domain tests) only reads and
writes conditionally; the decisions are all here.

Not Powertools Idempotency for create: its stored response would hold the checkout URL (which carries the
access token and must never be stored), and it cannot answer 409 for a different body with our codes. The
conditional claim on ``partnerReference`` is the idempotency key instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pay1st.models import CreatedPayment, FulfilmentItem, PaymentRequest

from pay1st_partner import state
from pay1st_partner.check_schedule import DEFAULT_SCHEDULE, CheckSchedule
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.errors import PaymentConflict, PaymentNotFound
from pay1st_partner.events import payment_event
from pay1st_partner.fingerprints import fulfilment_fingerprint, kept, same
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.fulfilment_guard import refusal
from pay1st_partner.payments.status_checks import StatusChecks, query_note
from pay1st_partner.payments.steps import StepRecorder
from pay1st_partner.records import Claim, PaymentRecord, ReferenceMismatch, Transition
from pay1st_partner.store.items import (
    claim_item,
    conflict_entry,
    fulfilment_item,
    record_from_item,
)
from pay1st_partner.store.port import PaymentStore, StatusChange, WebhookReceipt

if TYPE_CHECKING:
    from pay1st_partner.payments.attempts import PaymentAttempts
    from pay1st_partner.payments.owed import OwedConfirmations

# A lost race re-reads and decides again; more than a few rounds means something is badly wrong.
_MAX_WRITE_ATTEMPTS = 5
_MAX_CONFLICTS_KEPT = 20


class PaymentRepository(StatusChecks):
    def __init__(
        self,
        store: PaymentStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        schedule: CheckSchedule = DEFAULT_SCHEDULE,
        step_event_interval: float | None = None,  # between two "Payment In Progress" (payments.steps)
    ) -> None:
        self._store = store
        self._clock = clock
        self._schedule = schedule
        self._steps = StepRecorder(store, clock=clock, event_interval=step_event_interval)

    # ----------------------------------------------------------------- reads

    def get(self, partner_reference: str) -> PaymentRecord | None:
        return self._store.get(partner_reference)

    def _require(self, partner_reference: str) -> PaymentRecord:
        record = self._store.get(partner_reference)
        if record is None:
            raise PaymentNotFound()
        return record

    def find_by_reference(self, reference: str) -> PaymentRecord | None:
        return self._store.find_by_reference(reference)

    def open_payments(self, *, older_than: datetime, limit: int) -> list[PaymentRecord]:
        """Open payments not written (or checked) since ``older_than``, least recently touched first."""
        return self._store.open_payments(older_than=isoformat(older_than), limit=limit)

    def due_payments(self, *, now: datetime, limit: int, due_from: str = "") -> list[PaymentRecord]:
        """Watched payments due at ``now`` (``nextCheckAt``), the most overdue first: open ones for a status
        check, SUCCESSFUL ones whose fulfilment is not delivered (see the poller). ``due_from``: a
        ``next_check_at`` read before; none due earlier (where the previous page ended)."""
        return self._store.due_payments(due_before=isoformat(now), limit=limit, due_from=due_from)

    def outbox_events(self, partner_reference: str) -> list[OutboxEvent]:
        return self._store.outbox_events(partner_reference)

    def watch_until(self, partner_reference: str, next_check_at: datetime) -> bool:
        return self._store.watch_until(partner_reference, isoformat(next_check_at))

    def unwatch(self, partner_reference: str, *, amount: Decimal | None = None) -> bool:
        """Off the watch list, once nothing waits there (see the store's); ``amount``: the payment's, when the
        caller read it (refunds covering it end the wait for a fulfilment, as they refuse one)."""
        amount = amount if amount is not None else self._require(partner_reference).amount
        return self._store.unwatch(partner_reference, amount=amount)

    def gave_up_payments(self, *, limit: int) -> list[PaymentRecord]:
        """Open payments no longer checked (past the give-up age), for operators."""
        return self._store.gave_up_payments(limit=limit)

    def pending_events(self, *, older_than: datetime, limit: int) -> list[OutboxEvent]:
        """Events committed before ``older_than`` and still not cleared (their publisher may have died)."""
        return self._store.pending_events(older_than=isoformat(older_than), limit=limit)

    # ------------------------------------------------------------ create flow

    def claim(self, request: PaymentRequest, fingerprint: str, channel_id: str | None) -> Claim:
        """Claim ``partnerReference`` for a create (conditional put of a CREATING item)."""
        item = claim_item(request, kept(fingerprint), channel_id, self._now())
        for _ in range(_MAX_WRITE_ATTEMPTS):
            if self._store.put_claim(item):
                return Claim(created=True, record=record_from_item(item))
            existing = self._store.get(request.partner_reference)
            if existing is not None:
                return Claim(created=False, record=existing)
            # Released between our put and our read: try the put again.
        raise RuntimeError("could not claim the partnerReference after repeated races")

    def mark_created(
        self, partner_reference: str, created: CreatedPayment, *, current: PaymentRecord | None = None
    ) -> PaymentRecord:
        """CREATING/CREATE_UNKNOWN → the gateway's answer (NEW or PENDING), with the Pay1st reference.

        An ordinary transition (conditional write plus its outbox event, e.g. "Payment Pending"). If a
        webhook adopted the payment first with the same reference, that is the same payment moved on and
        is returned as it is; another reference raises :class:`PaymentConflict`. ``current``: the claimed
        record, if the caller has it (saves a read).
        """
        status = created.status if created.status in (state.NEW, state.PENDING) else state.NEW
        try:
            transition = self.apply_status(
                partner_reference, status, source="create", reference=created.reference, current=current
            )
        except ReferenceMismatch:
            raise PaymentConflict(
                "The payment changed while it was being created.", code="payment_conflict"
            ) from None
        return transition.record

    def mark_outcome_unknown(self, partner_reference: str, *, current: PaymentRecord | None = None) -> None:
        """CREATING → CREATE_UNKNOWN; a no-op if something (a webhook) already moved it on.

        Not through :meth:`apply_status`: no gateway report can make this transition (it is ours alone).
        """
        record = current
        for _ in range(_MAX_WRITE_ATTEMPTS):
            if record is None:
                record = self._store.get(partner_reference)
            if record is None or record.status != state.CREATING:
                return
            if self._write(record, state.CREATE_UNKNOWN, source="create", reference=None) is not None:
                return
            record = None  # changed since read: look again
        raise RuntimeError("could not mark the create outcome unknown after repeated races")

    def release_claim(self, partner_reference: str) -> None:
        """The gateway refused the create cleanly: forget the claim so the partner may try again."""
        self._store.delete_claim(partner_reference)

    # ------------------------------------------------------------ transitions

    def apply_status(
        self,
        partner_reference: str,
        status: str,
        *,
        source: str,
        reference: str | None = None,
        current: PaymentRecord | None = None,
        query: Mapping[str, Any] | None = None,
        receipt: WebhookReceipt | None = None,
    ) -> Transition:
        """Report a gateway status for a payment; applies it only if the transition graph allows it.

        ``reference`` (optional) is the Pay1st reference the report came with: a payment still waiting
        for its create answer adopts it; a payment with a different one raises :class:`ReferenceMismatch`.
        ``current`` (optional) is the payment as the caller just read it: the first attempt decides on it
        instead of reading again. That is safe even if it is out of date: the write's condition "status is
        still what I read" fails and the item is read again. Raises :class:`PaymentNotFound` when there
        is no such payment. ``query``: the status query that reported ``status`` (its history entry without
        ``at``), kept in the transition's write; a report that writes no transition keeps nothing here (the
        caller notes it with :meth:`touch_checked`). ``receipt`` (optional): the reporting webhook's outcome,
        written with the transition when one is applied (and only then).
        """
        if current is not None and current.partner_reference != partner_reference:
            raise ValueError("current is another payment")
        record = current
        attempt = None if current is None else current.gateway_reference  # the attempt the report is about
        for _ in range(_MAX_WRITE_ATTEMPTS):
            if record is None:
                record = self._require(partner_reference)
            if reference is not None and record.reference is not None and record.reference != reference:
                raise ReferenceMismatch(f"payment {partner_reference} has another Pay1st reference")
            if (
                reference is not None
                and record.reference is None
                and attempt not in (None, record.gateway_reference)
            ):
                # A retried create superseded the attempt since it was read: its reference is that attempt's
                # (the caller decides on it as a superseded attempt's), never the new current one's.
                raise ReferenceMismatch(f"payment {partner_reference} has moved on to another attempt")
            decision = state.decide(record.status, status)
            if decision.verdict is state.Verdict.STEP:
                return self._steps.record(
                    record, status, source=source, read=lambda: self._require(partner_reference)
                )
            if decision.verdict is state.Verdict.UNKNOWN:
                noted = self._store.note_unknown(partner_reference, status, self._now())
                return Transition(decision.verdict, record.status, status, noted)
            if decision.verdict is state.Verdict.CONFLICT:
                return Transition(
                    decision.verdict, record.status, status, self._note_conflict(record, status, source)
                )
            if not decision.applies:
                return Transition(decision.verdict, record.status, status, record)
            if record.reference is None and reference is None:
                # Nothing to query the gateway with later: a transition needs the Pay1st reference.
                raise ValueError("a payment without a Pay1st reference needs one to change status")
            written = self._write(
                record, status, source=source, reference=reference, query=query, receipt=receipt
            )
            if written is not None:
                return written
            # Lost a race: someone else changed the item between our read and our write; decide again.
            record = None
        raise RuntimeError("could not apply the status after repeated races")

    def _write(
        self,
        record: PaymentRecord,
        status: str,
        *,
        source: str,
        reference: str | None,
        query: Mapping[str, Any] | None = None,
        receipt: WebhookReceipt | None = None,
    ) -> Transition | None:
        """``record`` → ``status`` with its outbox event, in one conditional write (None: lost a race)."""
        moment = self._clock()
        now = isoformat(moment)
        adopt = reference if record.reference is None else None
        event = payment_event(record, status, reference=record.reference or adopt, occurred_at=now)
        note = None if query is None else query_note(record, query, now)
        next_check = self._schedule.next_check_text(record.created_at, moment)
        change = StatusChange(
            record,
            status,
            source,
            now,
            adopt_reference=adopt,
            event=event,
            query=note,
            next_check_at=next_check,
            receipt=receipt,
        )
        after = self._store.write_transition(change)
        if after is None:
            return None
        return Transition(state.Verdict.APPLY, record.status, status, after, event)

    def _note_conflict(self, record: PaymentRecord, status: str, source: str) -> PaymentRecord:
        # One entry per conflicting status is enough to alarm on and investigate; repeats add nothing.
        seen = {conflict.get("status") for conflict in record.conflicts}
        if status in seen or len(record.conflicts) >= _MAX_CONFLICTS_KEPT:
            return record
        entry = conflict_entry(status, record.status, self._now(), source)
        return self._store.add_conflict(record.partner_reference, entry)

    # ----------------------------------------------------------------- outbox

    def clear_event(self, partner_reference: str, event_id: str) -> None:
        """Drop a published event from the outbox; the markers go when the outbox is empty."""
        self._store.clear_event(partner_reference, event_id)

    # -------------------------------------------------------------- fulfilment

    def record_fulfilment(
        self, partner_reference: str, items: Sequence[FulfilmentItem], *, current: PaymentRecord | None = None
    ) -> PaymentRecord:
        """Record the fulfilled products once, on a payment our books allow it for
        (:mod:`pay1st_partner.payments.fulfilment_guard`); the same items again are a no-op. ``current``: the
        payment as the caller read it (its amount bounds the refunds in the write's condition)."""
        digest = fulfilment_fingerprint(items)
        amount = (current or self._require(partner_reference)).amount
        item = fulfilment_item(items, kept(digest), self._now())
        recorded = self._store.put_fulfilment(partner_reference, item, amount=amount)
        if recorded is not None:
            return recorded
        current = self._require(partner_reference)
        if current.fulfilment is not None and same(current.fulfilment.get("fingerprint"), digest):
            return current
        refused = refusal(current)
        if refused is not None:
            raise refused
        raise PaymentConflict(
            "A different fulfilment is already recorded for this payment.", code="fulfilment_conflict"
        )

    def note_transaction_id(self, record: PaymentRecord, transaction_id: str | None) -> PaymentRecord:
        """Keep the ``C-…-T`` id Pay1st sent (§15; written only when new); the record after it."""
        if transaction_id is None or transaction_id == record.transaction_id:
            return record
        noted = self._store.note_transaction_id(record.partner_reference, transaction_id)
        return record if noted is None else replace(record, transaction_id=noted.transaction_id)

    def owed(self) -> OwedConfirmations:
        """The payment's owed confirmations (``pay1st_partner.payments.owed``), over the same store and clock."""
        from pay1st_partner.payments.owed import OwedConfirmations

        return OwedConfirmations(self._store, clock=self._clock, schedule=self._schedule)

    def attempts(self) -> PaymentAttempts:
        """The payment's gateway attempts (``pay1st_partner.payments.attempts``), over the same store and clock."""
        from pay1st_partner.payments.attempts import PaymentAttempts

        return PaymentAttempts(self._store, clock=self._clock)

    def mark_fulfilment_delivered(
        self, partner_reference: str, *, attempt: Mapping[str, Any] | None = None
    ) -> None:
        """Note that the gateway accepted the §12 notification (idempotent: the first time is kept), and
        the delivery ``attempt`` that did it (its entry without ``at``) in the same write."""
        now = self._now()
        entry = None if attempt is None else {"at": now, **attempt}
        if not self._store.mark_fulfilment_delivered(partner_reference, now, attempt=entry):
            raise PaymentConflict("No fulfilment is recorded for this payment.", code="fulfilment_conflict")
