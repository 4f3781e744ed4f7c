"""Owed confirmations (DESIGN §9): a reported status that cannot be confirmed now is owed, durably, and paid.

A signed webhook whose report needs a status query (a SUCCESSFUL of any attempt, a reversal, an adoption)
may find the payment's query slot taken (``STATUS_QUERY_MIN_INTERVAL_SECONDS``) or the query failing. Its
signal must not depend on Pay1st delivering it again (its retry schedule is undocumented, and a 2xx ends
it): the webhook intake :meth:`OwedConfirmations.owe` s the confirmation on the payment - which Pay1st
reference to query, which attempt reported it, what it reported, since when - and puts the payment on the
due schedule for when the slot frees, and only then answers 2xx (``confirmation_owed``). A write that
fails is a 503, as any webhook not recorded.

The status poller :meth:`OwedConfirmations.pay` s owed confirmations first, for open and final payments
alike, one query per payment per interval, asking about the Pay1st reference of the attempt that
reported (a superseded attempt's too, which the schedule never queries otherwise). The answer is applied
as the webhook's would have been (a superseded attempt's SUCCESSFUL through
:meth:`~pay1st_partner.payments.reconcile.Reconciler.confirm_attempt`, so two attempts paid end
``doublePaid``); whatever it says, the entry is settled, unless the gateway could not be asked (then it
stays owed, due again one interval later). The ration bounds the queries; it never decides whether a
signal counts.

Unsigned events (``WEBHOOK_SIGNATURE_MODE=off``) owe nothing: anyone could send them, and a bounded map
(``MAX_OWED`` per payment) must not be fillable by strangers; the schedule checks the current attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pay1st_partner import state
from pay1st_partner.check_schedule import DEFAULT_SCHEDULE, CheckSchedule
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.errors import PaymentNotFound
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.outcomes import UNCONFIRMED
from pay1st_partner.payments.reconcile import (
    QUERY_THROTTLED,
    REFERENCE_MISMATCH,
    Reconciler,
)
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import MAX_OWED, OPEN_MARKER, OWED_MARKER
from pay1st_partner.store.port import OwedChange, PaymentStore

CONFIRMATION_OWED = "confirmation_owed"
NOTHING_OWED = "nothing_owed"  # a payment on the OWED schedule with nothing owed any more: taken off it
_MAX_WRITE_ATTEMPTS = 5


class OwedLimitReached(Exception):
    """The payment already owes ``MAX_OWED`` confirmations of other references: not recorded (503)."""


class OwedConfirmations:
    def __init__(
        self,
        store: PaymentStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        schedule: CheckSchedule = DEFAULT_SCHEDULE,
    ) -> None:
        self._store = store
        self._clock = clock
        self._schedule = schedule

    def owe(
        self,
        record: PaymentRecord,
        *,
        attempt_reference: str,
        reference: str,
        reported: str,
        due_in: float,
        since: str | None = None,
    ) -> PaymentRecord:
        """Record that ``reported`` (by the attempt ``attempt_reference``, Pay1st ``reference``) awaits its
        confirmation, due in ``due_in`` seconds (when the query slot frees); the payment after the write.

        ``since``: keep an entry's original time (a reschedule). Raises :class:`OwedLimitReached`, or
        :class:`PaymentNotFound`; a lost race re-reads and writes again.
        """
        now = self._clock()
        entry = {
            "attemptReference": attempt_reference,
            "reported": reported,
            "since": since or isoformat(now),
        }
        due = isoformat(now + timedelta(seconds=max(0.0, due_in)))
        current: PaymentRecord | None = record
        for _ in range(_MAX_WRITE_ATTEMPTS):
            if current is None:
                raise PaymentNotFound()
            if reference not in current.owed and len(current.owed) >= MAX_OWED:
                raise OwedLimitReached(current.partner_reference)
            # The poller's own partitions of the schedule hold what it cannot check as an open payment.
            marker = OPEN_MARKER if current.is_open and current.reference is not None else OWED_MARKER
            after = self._store.owe_confirmation(OwedChange(current, reference, entry, due, marker))
            if after is not None:
                if since is None:
                    count("ConfirmationOwed")
                    logger.info(
                        "status confirmation owed",
                        extra={
                            "partnerReference": current.partner_reference,
                            "reference": reference,
                            **entry,
                        },
                    )
                return after
            current = self._store.get(record.partner_reference)
        raise RuntimeError("could not record an owed confirmation after repeated races")

    def pay(self, record: PaymentRecord, reconciler: Reconciler, *, deadline: float | None) -> str:
        """Pay the payment's oldest owed confirmation with one status query (the poller's first job)."""
        if not record.owed:
            self._end_schedule(record.partner_reference)
            return NOTHING_OWED
        reference, entry = min(record.owed.items(), key=lambda pair: str(pair[1].get("since")))
        attempt = str(entry.get("attemptReference") or record.gateway_reference)
        log: Mapping[str, Any] = {"partnerReference": record.partner_reference, "reference": reference}
        if not reconciler.claim_query(record, priority=True, log=log):
            outcome = QUERY_THROTTLED
        elif (
            attempt != record.gateway_reference
        ):  # a superseded attempt: only its confirmed SUCCESSFUL counts
            outcome = reconciler.confirm_attempt(
                record, attempt, reference, source="poller", deadline=deadline, slot_taken=True
            ).outcome
        elif record.reference not in (None, reference):
            outcome = REFERENCE_MISMATCH
        else:
            outcome = reconciler.refresh(
                record,
                source="poller",
                reference=reference,
                deadline=deadline,
                authenticated=True,
                slot_taken=True,
            ).outcome
        if outcome in UNCONFIRMED:  # still owed: due when the slot frees again
            self.owe(
                record,
                attempt_reference=attempt,
                reference=reference,
                reported=str(entry.get("reported")),
                due_in=reconciler.min_query_interval,
                since=str(entry["since"]),
            )
            return outcome
        self._settle(record.partner_reference, reference, str(entry["since"]))
        logger.info(
            "owed status confirmation paid",
            extra={**log, "reported": entry.get("reported"), "outcome": outcome},
        )
        count("OwedConfirmationPaid", outcome=outcome)
        return outcome

    def _settle(self, partner_reference: str, reference: str, since: str) -> None:
        after = self._store.settle_owed(partner_reference, reference, since)
        if after is None or not after.owed:
            self._end_schedule(partner_reference)

    def _end_schedule(self, partner_reference: str) -> None:
        """Nothing owed: a final payment (or one with no Pay1st reference) leaves the schedule; an open one is
        next due on its own schedule; a SUCCESSFUL one whose fulfilment is not delivered stays on the watch
        list (the poller's, for PaidNotFulfilled), due now."""
        current = self._store.get(partner_reference)
        if current is None or current.owed:
            return
        next_check = None
        if current.is_open and current.reference is not None:
            next_check = self._schedule.next_check_text(current.created_at, self._clock())
        elif current.status == state.SUCCESSFUL and not (current.fulfilment or {}).get("deliveredAt"):
            next_check = isoformat(self._clock())
        self._store.end_owed_schedule(partner_reference, next_check_at=next_check)
