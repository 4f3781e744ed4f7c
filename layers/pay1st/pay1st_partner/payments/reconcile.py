"""Bring one payment in line with what the gateway says (§9), and apply reported statuses.

Used by the webhook intake (to confirm a SUCCESSFUL before it counts, and to adopt a payment whose create
answer was lost), by the status poller, and by ``GET /payments/{partnerReference}`` when the stored status
is open and stale. The gateway's answer is only applied when it describes *our* payment: same
partnerReference, same Pay1st reference (or none known yet) and the amount and currency we created.

Status queries are rationed per payment (``min_query_interval``, ``STATUS_QUERY_MIN_INTERVAL_SECONDS``):
whatever asks - a webhook, an unsigned event in mode ``off``, the status route, the poller - a query is only
made after a conditional write on the payment item takes its slot (``lastQueryAt`` older than the
interval), so replays and floods of events cannot turn into gateway calls. An authenticated webhook's
confirmation may take the slot of a background query (status route, poller, unsigned event), so a real
settlement is never held back by them: at most one background and one authenticated query per interval.
A refused slot is the outcome ``query_throttled`` (the poller finishes the job).

Each query made is kept in the payment's bounded ``statusQueries`` (who asked, the answer or the error, the
outcome) by the write that records its answer anyway (the transition or the status check), never by a
write of its own. Not kept: a reversal's answer, and an answer that changes nothing for a payment with no
Pay1st reference yet (neither writes a status check).

A REFUND or CHARGEBACK the gateway's answer reports for a SUCCESSFUL payment is recorded as a reversal
(once, with its event: ``Payment Refunded`` / ``Payment Charged Back``); it never changes the payment's
status, so nothing can make the payment payable or fulfillable again (contract §9, §16). A ``C-…-T``
transaction id in an answer is kept on the payment (§15: what a refund may have to name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from pay1st.errors import InvalidRequestError, Pay1stError
from pay1st.models import PaymentDetails

from pay1st_partner import state
from pay1st_partner.events import EventPublisher
from pay1st_partner.observability import count, logger
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.attempts import DISPLACED, SUPERSEDED, attempt_entry
from pay1st_partner.payments.outcomes import (
    AMOUNT_MISMATCH as AMOUNT_MISMATCH,
)
from pay1st_partner.payments.outcomes import (
    GATEWAY_REJECTED as GATEWAY_REJECTED,
)
from pay1st_partner.payments.outcomes import (
    GATEWAY_UNAVAILABLE as GATEWAY_UNAVAILABLE,
)
from pay1st_partner.payments.outcomes import (
    NO_REFERENCE as NO_REFERENCE,
)
from pay1st_partner.payments.outcomes import (
    QUERY_THROTTLED as QUERY_THROTTLED,
)
from pay1st_partner.payments.outcomes import (
    REFERENCE_MISMATCH as REFERENCE_MISMATCH,
)
from pay1st_partner.payments.outcomes import (
    REVERSED as REVERSED,
)
from pay1st_partner.payments.outcomes import WRITE_RACED, mismatch
from pay1st_partner.payments.outcomes import (
    Outcome as Outcome,
)
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord, ReferenceMismatch
from pay1st_partner.store.port import WebhookReceipt


class Reversals(Protocol):
    """Records a REFUND/CHARGEBACK the gateway confirmed (the refunds' repository is the one in use)."""

    def record_reversal(
        self, record: PaymentRecord, kind: str, *, source: str
    ) -> tuple[PaymentRecord, OutboxEvent | None]: ...


class StatusSource(Protocol):
    """The one gateway operation reconciliation needs (``pay1st.client.Pay1stClient`` has it)."""

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails: ...


class LazyStatusSource:
    """Builds the gateway client on the first status query only (most requests never need one)."""

    def __init__(self, factory: Callable[[], StatusSource]) -> None:
        self._factory = factory

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails:
        return self._factory().get_payment(reference, deadline=deadline)


_ATTEMPT_RACES = 3  # reads of a payment a superseded attempt's confirmed payment is decided on


class Reconciler:
    def __init__(
        self,
        payments: PaymentRepository,
        gateway: StatusSource,
        publisher: EventPublisher,
        reversals: Reversals | None = None,
        *,
        min_query_interval: float = 0.0,
    ) -> None:
        """``min_query_interval``: seconds between status queries for one payment (0: no rationing)."""
        self._payments = payments
        self._gateway = gateway
        self._publisher = publisher
        self._reversals = reversals
        self._min_query_interval = min_query_interval

    def apply(
        self,
        record: PaymentRecord,
        status: str,
        *,
        source: str,
        reference: str | None = None,
        query: Mapping[str, Any] | None = None,
        receipt: WebhookReceipt | None = None,
    ) -> Outcome:
        """Report ``status`` for ``record``: a conditional transition, then its event is published.

        ``query``: the status query that reported it, kept with the transition (see ``refresh``).
        ``receipt``: the reporting webhook's outcome, written with the transition if one is applied.
        """
        log = {"partnerReference": record.partner_reference, "reference": reference or record.reference}
        try:
            transition = self._payments.apply_status(
                record.partner_reference,
                status,
                source=source,
                reference=reference,
                current=record,
                query=query,
                receipt=receipt,
            )
        except ReferenceMismatch:
            logger.warning("status report for another Pay1st reference ignored", extra=log)
            count("StatusRejected", reason=REFERENCE_MISMATCH)
            return Outcome(REFERENCE_MISMATCH, record)
        verdict = transition.verdict
        if transition.applied:
            logger.info(
                "payment status changed",
                extra={**log, "from": transition.previous_status, "to": status, "source": source},
            )
            count("StatusTransition", status=status)
        elif verdict is state.Verdict.CONFLICT:
            logger.error(
                "conflicting final status recorded",
                extra={**log, "recorded": transition.previous_status, "reported": status, "source": source},
            )
            count("StatusConflict")
        elif verdict is state.Verdict.UNKNOWN:
            logger.warning(
                "unknown payment status recorded", extra={**log, "reported": status, "source": source}
            )
        if transition.event is not None:  # a transition's, or an in-progress step told (payments.steps)
            self._publisher.publish([transition.event], self._payments)
        return Outcome(verdict.value, transition.record, transition)

    def refresh(
        self,
        record: PaymentRecord,
        *,
        source: str,
        reference: str | None = None,
        deadline: float | None = None,
        authenticated: bool = False,
        receipt: WebhookReceipt | None = None,
        slot_taken: bool = False,
    ) -> Outcome:
        """Ask the gateway for the payment's status and apply it if it describes our payment.

        ``reference`` is the Pay1st reference to ask about when we have none yet (a webhook adopting a
        payment whose create answer was lost). Gateway trouble is an outcome, never an exception: the
        poller will try again. ``authenticated``: the ask comes from an authenticated webhook (priority).
        ``receipt``: that webhook's outcome, written with the transition if one is applied.
        ``slot_taken``: the caller already holds the payment's query slot (:meth:`read_for_confirmation`).
        """
        query_reference = record.reference or reference
        log = {"partnerReference": record.partner_reference, "reference": query_reference}
        if query_reference is None:
            return Outcome(NO_REFERENCE, record)
        if not self._query_slot(
            record, slot_taken=slot_taken, priority=authenticated, log={**log, "source": source}
        ):
            return Outcome(QUERY_THROTTLED, record)
        try:
            details = self._gateway.get_payment(query_reference, deadline=deadline)
        except InvalidRequestError as exc:
            logger.warning(
                "gateway refused the status query",
                extra={
                    **log,
                    "status": exc.status,
                    "error_code": exc.error_code,
                    "session_id": exc.session_id,
                },
            )
            failed = _failed_query(source, GATEWAY_REJECTED, exc)
            return Outcome(GATEWAY_REJECTED, self._touch(record, failed))
        except Pay1stError as exc:
            logger.warning(
                "gateway status query failed",
                extra={
                    **log,
                    "error_type": type(exc).__name__,
                    "status": getattr(exc, "status", None),
                    "session_id": getattr(exc, "session_id", None),
                },
            )
            failed = _failed_query(source, GATEWAY_UNAVAILABLE, exc)
            return Outcome(GATEWAY_UNAVAILABLE, self._touch(record, failed))

        problem = mismatch(record, details)
        if problem is not None:
            logger.error(
                "gateway answer does not match the payment",
                extra={**log, "problem": problem, "gateway_status": details.status},
            )
            count("StatusRejected", reason=problem)
            answered = {"by": source, "answer": details.status, "outcome": problem}
            return Outcome(problem, self._touch(record, answered), gateway_status=details.status)

        record = self._payments.note_transaction_id(record, details.transaction_id)  # §15, when sent
        if details.status in state.REVERSAL_STATUSES and record.status == state.SUCCESSFUL:
            return self._reverse(record, details.status, source=source)
        answered = {"by": source, "answer": details.status}
        outcome = self.apply(
            record,
            details.status,
            source=source,
            reference=details.reference,
            query={**answered, "outcome": state.Verdict.APPLY.value},
            receipt=receipt,
        )
        if outcome.outcome == REFERENCE_MISMATCH and record.reference is None:  # an adoption refused
            return self._superseded_meanwhile(record, details)
        noted = {**answered, "outcome": outcome.outcome}
        after = outcome.record if outcome.applied else self._touch(outcome.record, noted)
        return Outcome(outcome.outcome, after, outcome.transition, gateway_status=details.status)

    def read_for_confirmation(
        self, partner_reference: str, *, report: str, reference: str, currency_code: str, amount: Decimal
    ) -> tuple[PaymentRecord | None, bool]:
        """The payment an authenticated webhook reports on, with its query slot taken in the same write
        when that report would be confirmed with the gateway: (record, slot taken). Pass ``slot_taken`` to
        :meth:`refresh`. Without rationing, a plain read."""
        if self._min_query_interval <= 0:
            return self._payments.get(partner_reference), False
        return self._payments.get_claiming_query(
            partner_reference,
            report=report,
            reference=reference,
            currency_code=currency_code,
            amount=amount,
            min_interval=self._min_query_interval,
            priority=True,
        )

    def confirm_attempt(
        self,
        record: PaymentRecord,
        attempt_reference: str,
        reference: str,
        *,
        source: str,
        deadline: float | None = None,
        authenticated: bool = False,
        slot_taken: bool = False,
    ) -> Outcome:
        """A superseded attempt reported SUCCESSFUL: only the gateway's status query makes it count.

        The query is rationed like :meth:`refresh` (``slot_taken``: the caller's read took the slot); its answer must name the attempt's reference, the
        Pay1st ``reference`` and our amount and currency. Confirmed paid → ``pay1st_partner.payments.attempts``.
        """
        log = {"partnerReference": record.partner_reference, "attemptReference": attempt_reference}
        if not self._query_slot(record, slot_taken=slot_taken, priority=authenticated, log=log):
            return Outcome(QUERY_THROTTLED, record)
        try:
            details = self._gateway.get_payment(reference, deadline=deadline)
        except InvalidRequestError:
            logger.warning("gateway refused the status query of a superseded attempt", extra=log)
            return Outcome(GATEWAY_REJECTED, record)
        except Pay1stError as exc:
            logger.warning("superseded attempt query failed", extra={**log, "error_type": type(exc).__name__})
            return Outcome(GATEWAY_UNAVAILABLE, record)
        return self._attempt_answer(record, attempt_reference, reference, details)

    def _superseded_meanwhile(self, record: PaymentRecord, details: PaymentDetails) -> Outcome:
        """An adoption's write met another Pay1st reference: when a retried create superseded the adopted
        attempt after our read, the answer is that superseded attempt's, applied as :meth:`confirm_attempt`
        applies one (no second query). An attempt not superseded on the payment stays a mismatch."""
        fresh = self._payments.get(record.partner_reference)
        entry = None if fresh is None else attempt_entry(fresh, details.partner_reference)
        if fresh is None or entry is None or entry.get("reference") not in (None, details.reference):
            return Outcome(REFERENCE_MISMATCH, record, gateway_status=details.status)
        log = {"partnerReference": record.partner_reference, "attemptReference": details.partner_reference}
        logger.warning("the adopted attempt was superseded meanwhile", extra=log)
        return self._attempt_answer(fresh, details.partner_reference, details.reference, details)

    def _attempt_answer(
        self, record: PaymentRecord, attempt_reference: str, reference: str, details: PaymentDetails
    ) -> Outcome:
        """The gateway's answer about a superseded attempt: only a SUCCESSFUL of that attempt counts."""
        log = {"partnerReference": record.partner_reference, "attemptReference": attempt_reference}
        if details.partner_reference != attempt_reference or details.reference != reference:
            count("StatusRejected", reason=REFERENCE_MISMATCH)
            return Outcome(REFERENCE_MISMATCH, record, gateway_status=details.status)
        if details.amount != record.amount or details.currency_code != record.currency_code:
            count("StatusRejected", reason=AMOUNT_MISMATCH)
            return Outcome(AMOUNT_MISMATCH, record, gateway_status=details.status)
        if details.status != state.SUCCESSFUL:
            logger.info(
                "superseded attempt not paid after all", extra={**log, "gateway_status": details.status}
            )
            return Outcome(SUPERSEDED, record, gateway_status=details.status)
        # A lost race (another write between our read and ours) is decided again on a fresh read: answered
        # "stale", the report was acknowledged and nobody would ever ask about this attempt again.
        for _ in range(_ATTEMPT_RACES):
            record = self._owe_displaced(record)
            outcome, after, event = self._payments.attempts().paid(record, attempt_reference, reference)
            if outcome != state.Verdict.STALE.value:
                break
            fresh = self._payments.get(record.partner_reference)
            if fresh is None:
                break
            if attempt_entry(fresh, attempt_reference) is None:  # promoted meanwhile (another report of it)
                if fresh.gateway_reference == attempt_reference:
                    outcome, after = state.Verdict.SAME.value, fresh
                break
            record = fresh
        else:
            outcome = WRITE_RACED  # still losing: owed (UNCONFIRMED), confirmed again by the poller
        if event is not None:
            self._publisher.publish([event], self._payments)
        return Outcome(outcome, after, gateway_status=details.status)

    def _owe_displaced(self, record: PaymentRecord) -> PaymentRecord:
        """An open payment's current attempt is about to be displaced by a paid superseded one: it may be
        paid too (the customer holds its link) with its webhooks lost, and the schedule never queries a
        superseded attempt. So its confirmation is owed first, in its own write before the promotion (a crash
        between them leaves a harmless owed query of the still current attempt): the poller asks about it
        after the interval, and two attempts paid end ``doublePaid``."""
        if not record.is_open or record.reference is None:
            return record
        return self._payments.owed().owe(
            record,
            attempt_reference=record.gateway_reference,
            reference=record.reference,
            reported=DISPLACED,
            due_in=self._min_query_interval,
        )

    @property
    def min_query_interval(self) -> float:
        """Seconds between status queries for one payment (when a taken slot frees)."""
        return self._min_query_interval

    def claim_query(self, record: PaymentRecord, *, priority: bool, log: Mapping[str, Any]) -> bool:
        """Take the payment's query slot for a query the caller makes next (pass ``slot_taken``)."""
        return self._query_slot(record, slot_taken=False, priority=priority, log=log)

    def _query_slot(
        self, record: PaymentRecord, *, slot_taken: bool, priority: bool, log: Mapping[str, Any]
    ) -> bool:
        """Whether this status query may go: the caller holds the payment's slot, there is no rationing, or
        the slot is free now (taken here). A query refused is logged and counted (``StatusQueryThrottled``)."""
        if slot_taken or self._min_query_interval <= 0:
            return True
        if self._payments.claim_status_query(
            record.partner_reference, min_interval=self._min_query_interval, priority=priority
        ):
            return True
        logger.info("status query skipped: one was made within the interval", extra=dict(log))
        count("StatusQueryThrottled")
        return False

    def _reverse(self, record: PaymentRecord, kind: str, *, source: str) -> Outcome:
        """Record a reversal the gateway confirmed (once), then publish its event."""
        if self._reversals is None:  # not wired: recorded as an unknown status, as before
            return self.apply(record, kind, source=source)
        after, event = self._reversals.record_reversal(record, kind, source=source)
        if event is None:
            return Outcome(state.Verdict.SAME.value, after, gateway_status=kind)
        logger.warning(
            "payment reversed at Pay1st",
            extra={"partnerReference": record.partner_reference, "reversal": kind},
        )
        count("PaymentReversed", reversal=kind)
        self._publisher.publish([event], self._payments)
        return Outcome(REVERSED, after, gateway_status=kind)

    def _touch(self, record: PaymentRecord, query: Mapping[str, Any] | None = None) -> PaymentRecord:
        """Note the check (and the query's history entry), and schedule the next, on payments the poller sees
        (those with a reference); the record after it."""
        if record.reference is None:
            return record
        return self._payments.note_check(record, query=query) or record


def _failed_query(source: str, outcome: str, exc: Pay1stError) -> dict[str, Any]:
    """A failed query's history entry: who asked, the error's class and HTTP status (when it had one)."""
    entry: dict[str, Any] = {"by": source, "outcome": outcome, "error": type(exc).__name__}
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        entry["httpStatus"] = status
    return entry
