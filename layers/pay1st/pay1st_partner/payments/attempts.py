"""Attempts: a payment whose create answer was lost gets a new attempt at Pay1st, and its old ones stay harmless.

Pay1st refuses a partnerReference it already has and has no lookup by partnerReference (contract §7, §9).
So when an attempt's outcome is unknown and a repeat of the create is refused as a duplicate, the attempt
exists at Pay1st but nobody can ever hold its checkout link. The repeat then makes a new attempt under a
derived reference (:func:`pay1st_partner.references.attempt_reference`) and answers with its link; the
payment (keyed by the partner's own partnerReference) now follows that attempt. The earlier attempts are
kept on the payment (``attempts``), and their derived references point back at it (pointer items), so
webhooks and status answers of any attempt map to the payment.

A superseded attempt can never change the payment by failing, being cancelled or abandoned: those reports
are acknowledged and ignored (``superseded_attempt``). If one is nevertheless reported SUCCESSFUL, the
gateway's status query must confirm it (:meth:`pay1st_partner.payments.reconcile.Reconciler.confirm_attempt`);
then the payment is paid by that attempt (it becomes the current one, with its Pay1st reference, so
fulfilment and refunds name the attempt that was paid). When the payment was already paid by another
attempt, both were paid: ``doublePaid`` on the payment, ``Payment Paid Twice`` event, an error log and
the ``PaymentPaidTwice`` metric (alarmed): one of them needs a refund.

Attempts run out: when the repeat of the last one (``MAX_ATTEMPTS``) is refused as a duplicate too, every
attempt exists at Pay1st and none has a link anybody holds. Another derived reference would only add one more
orphan, so the payment ends there (:meth:`PaymentAttempts.exhaust`): ``attemptsExhaustedAt`` on it (its
status stays ``CREATE_UNKNOWN``: we never learnt any attempt's Pay1st reference), every later repeat answers
409 ``attempts_exhausted`` without calling Pay1st, an error log lists the orphaned attempts, and the
``PaymentAttemptsExhausted`` metric is alarmed. Nothing else changes: a webhook of any attempt still maps to
the payment, and one reported SUCCESSFUL (confirmed, or owed and confirmed by the poller) still pays it.

The status poller does not query superseded attempts: their Pay1st reference never reached us (that is
why they were superseded) and §9 queries by Pay1st reference only. Nobody holds their link, so they can
only be paid by someone who got it out of band; Pay1st's webhook for such a payment is the one signal,
and it is confirmed here. One superseded attempt is different: the current attempt a paid superseded one
displaces has a Pay1st reference and a link the customer holds, and may have been paid already with its
webhook lost. Before the promotion its confirmation is owed (``DISPLACED``,
:mod:`pay1st_partner.payments.owed`): the poller asks about it once, after the interval, and a paid answer
ends the payment ``doublePaid``. Paid later still, with every webhook of it lost, it is not learnt (README
"Reconciliation": what only a webhook can tell).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from pay1st_partner import state
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.events import payment_event, standing_event
from pay1st_partner.observability import count, logger
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord
from pay1st_partner.references import MAX_ATTEMPTS, attempt_reference, is_attempt_reference
from pay1st_partner.store.items import new_claim_id
from pay1st_partner.store.port import AttemptChange, PaymentStore

SUPERSEDED = "superseded_attempt"
DOUBLE_PAID = "double_paid"
PAID_AFTER_CLOSE = "paid_after_close"  # a superseded attempt paid after the current one FAILED/CANCELLED/…
DISPLACED = "DISPLACED"  # what an owed confirmation of the attempt a paid superseded one displaced reports
PAID_TWICE_DETAIL_TYPE = "Payment Paid Twice"


def attempt_references(record: PaymentRecord) -> tuple[str, ...]:
    """Every reference the payment's attempts were created under at Pay1st, oldest first."""
    return (*(str(entry["partnerReference"]) for entry in record.attempts), record.gateway_reference)


def attempt_entry(record: PaymentRecord, attempt_reference: str) -> dict[str, Any] | None:
    """The superseded attempt created under ``attempt_reference`` (a copy), or None."""
    return next((dict(e) for e in record.attempts if e["partnerReference"] == attempt_reference), None)


def attempts_view(record: PaymentRecord) -> list[dict[str, Any]]:
    """The attempts as the partner sees them (status route, events): oldest first, the current one last."""
    view: list[dict[str, Any]] = []
    for entry in record.attempts:
        item = {"attemptReference": entry["partnerReference"], "current": False}
        item["reference"] = entry.get("reference")
        item["paid"] = bool(entry.get("paidAt"))
        item["supersededAt"] = entry.get("supersededAt")
        view.append(item)
    current = {"attemptReference": record.gateway_reference, "current": True, "reference": record.reference}
    current["paid"] = record.status == state.SUCCESSFUL
    view.append(current)
    return view


class PaymentAttempts:
    def __init__(self, store: PaymentStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def find(self, gateway_reference: str) -> tuple[PaymentRecord, str] | None:
        """The payment an attempt reference belongs to, and that reference; None when it is not ours.

        A derived reference is found through its pointer; it must also be listed on the payment (a pointer
        whose attempt was never written, or a reference we never made, names nothing).
        """
        owner = (
            self._store.attempt_owner(gateway_reference) if is_attempt_reference(gateway_reference) else None
        )
        record = self._store.get(owner or gateway_reference)
        if record is None or gateway_reference not in attempt_references(record):
            return None
        return record, gateway_reference

    def start_next(self, record: PaymentRecord, *, reason: str) -> PaymentRecord | None:
        """CREATE_UNKNOWN → CREATING under the next derived reference; the current attempt is superseded.

        None when no new attempt can be made (the last one is used up) or another request started it first.
        """
        number = len(record.attempts) + 2
        if record.status != state.CREATE_UNKNOWN or number > MAX_ATTEMPTS:
            return None
        derived = attempt_reference(record.partner_reference, number)
        if self._store.claim_attempt_reference(derived, record.partner_reference) != record.partner_reference:
            raise RuntimeError("a derived attempt reference is held by another payment")  # a digest collision
        now = isoformat(self._clock())
        claim = new_claim_id()
        entry = {"partnerReference": record.gateway_reference, "supersededAt": now, "reason": reason}
        change = AttemptChange(
            record,
            (*record.attempts, {**entry, "claimId": claim}),
            derived,
            source="attempt",
            at=now,
            status=state.CREATING,
            claim_id=claim,
        )
        after = self._store.write_attempts(change)
        if after is not None:
            count("PaymentAttemptStarted")
            logger.warning(
                "new payment attempt",
                extra={
                    "partnerReference": record.partner_reference,
                    "attemptReference": derived,
                    "reason": reason,
                },
            )
        return after

    def exhaust(self, record: PaymentRecord) -> PaymentRecord | None:
        """End a CREATE_UNKNOWN payment whose last attempt was refused as a duplicate (module docstring).

        The payment after the write (or as it already was, when ended before); None when it moved on.
        """
        if record.attempts_exhausted_at is not None:
            return record
        if record.status != state.CREATE_UNKNOWN or len(record.attempts) + 1 < MAX_ATTEMPTS:
            return None
        change = AttemptChange(
            record,
            record.attempts,
            record.gateway_reference,
            source="attempt",
            at=isoformat(self._clock()),
            exhausted=True,
        )
        after = self._store.write_attempts(change)
        if after is not None:
            count("PaymentAttemptsExhausted")  # alarmed
            logger.error(
                "payment attempts exhausted: no checkout link exists for any of them",
                extra={
                    "partnerReference": record.partner_reference,
                    "orphanedAttempts": list(attempt_references(after)),
                },
            )
        return after

    def paid(
        self, record: PaymentRecord, gateway_reference: str, reference: str
    ) -> tuple[str, PaymentRecord, OutboxEvent | None]:
        """A superseded attempt the gateway confirmed SUCCESSFUL: the payment is paid (by it, or twice).

        Returns the outcome, the payment after it and the event to publish. None of the writes can make a
        SUCCESSFUL payment anything else; a lost race returns ``("stale", record, None)`` (the webhook is
        delivered again or the poller sees the payment).
        """
        now = isoformat(self._clock())
        others = [dict(e) for e in record.attempts if e["partnerReference"] != gateway_reference]
        mine = attempt_entry(record, gateway_reference)
        if mine is None:
            return "stale", record, None
        if mine.get("paidAt"):
            return state.Verdict.SAME.value, record, None
        mine.update(reference=reference, paidAt=now)
        log = {
            "partnerReference": record.partner_reference,
            "attemptReference": gateway_reference,
            "reference": reference,
        }
        if not record.is_open:
            # Paid already by another attempt (or closed by it): this attempt's money must go back. Twice: the
            # payment is SUCCESSFUL, or it closed unpaid but another superseded attempt was paid after it.
            twice = record.status == state.SUCCESSFUL or any(e.get("paidAt") for e in others)
            attempts = tuple(
                mine if e["partnerReference"] == gateway_reference else e for e in record.attempts
            )
            event = _paid_twice_event(record, gateway_reference, reference, now) if twice else None
            change = AttemptChange(
                record,
                attempts,
                record.gateway_reference,
                source="attempt",
                at=now,
                double_paid=twice,
                event=event,
            )
            after = self._store.write_attempts(change)
            if after is None:
                return "stale", record, None
            message = (
                "two attempts of one payment were paid"
                if twice
                else "a superseded attempt of a closed payment was paid"
            )
            logger.error(f"{message}: one needs a refund", extra={**log, "status": record.status})
            if twice:
                count("PaymentPaidTwice")  # alarmed
            else:
                count("SupersededAttemptPaid")  # alarmed
            return (DOUBLE_PAID if twice else PAID_AFTER_CLOSE), after, event
        # Open: the paid attempt becomes the current one and the payment is SUCCESSFUL.
        current = {
            "partnerReference": record.gateway_reference,
            "supersededAt": now,
            "reason": "other_attempt_paid",
        }
        if record.reference is not None:
            current["reference"] = record.reference
        promoted = replace(record, attempt_reference=gateway_reference, attempts=(*others, current))
        event = payment_event(promoted, state.SUCCESSFUL, reference=reference, occurred_at=now)
        change = AttemptChange(
            record,
            promoted.attempts,
            gateway_reference,
            source="attempt",
            at=now,
            status=state.SUCCESSFUL,
            reference=reference,
            event=event,
        )
        after = self._store.write_attempts(change)
        if after is None:
            return "stale", record, None
        logger.warning("payment paid by a superseded attempt", extra=log)
        count("StatusTransition", status=state.SUCCESSFUL)
        return state.Verdict.APPLY.value, after, event


def _paid_twice_event(record: PaymentRecord, gateway_reference: str, reference: str, now: str) -> OutboxEvent:
    event_id = f"{record.partner_reference}:PAID_TWICE:{gateway_reference}"
    return standing_event(
        record,
        event_id,
        PAID_TWICE_DETAIL_TYPE,
        occurred_at=now,
        doublePaid=True,
        paidAttempt={"attemptReference": gateway_reference, "reference": reference},
    )
