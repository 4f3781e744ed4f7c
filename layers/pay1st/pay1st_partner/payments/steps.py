"""In-progress steps (contract §9): the gateway's latest word on an open payment, and the partner told.

``SEND_OTP``, ``SEND_PIN``, ``SEND_PHONE``, ``SEND_BIRTHDAY``, ``SEND_VALIDATION_TOKEN``, ``PAY_OFFLINE``,
``READY`` and ``VALIDATED`` are steps of a payment in progress (§14: a card asking its OTP, a wallet its
phone, a voucher paid offline...). They are treated like PENDING: open, never paid, never final. They are
not transitions: a method walks them in its own order and may repeat one (a wrong OTP asks again), which no
acyclic graph can hold, and the payment's status (NEW or PENDING) stays what it is. So a step is recorded
beside the status (``step``: which, when, and the status it was reported during) and shown on the status
route while it is still the latest word (``PaymentRecord.current_step``).

They reach us as every other status does: a signed webhook is recorded directly, an unsigned one prompts a
status query whose answer is recorded, and the poller's and the status route's queries record theirs. A step
for a settled payment is stale; one for a payment whose Pay1st reference we do not know yet is not recorded
(nothing to check it against; the webhook that settles the payment adopts it).

Telling the partner (``Payment In Progress``, with the step) is rate-limited per payment, so a chatty flow
does not flood the partner's bus: at most one event per step (its ``eventId`` is
``"{partnerReference}:step:{step}"``), and at most one per ``STEP_EVENT_MIN_INTERVAL_SECONDS`` (30 s in the
template), whichever step. A step not told is still recorded, so the status route shows it. The event is
written with the step in one conditional write (the outbox), holding while ``stepToldAt`` is as read, so two
concurrent reports never both tell.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pay1st_partner import state
from pay1st_partner.clock import age_seconds, isoformat
from pay1st_partner.events import step_event
from pay1st_partner.records import PaymentRecord, Transition
from pay1st_partner.store.port import PaymentStore, StepChange

DEFAULT_EVENT_INTERVAL_SECONDS = 30.0
_MAX_WRITE_ATTEMPTS = 5


def told_at(record: PaymentRecord) -> str | None:
    """When the payment's newest ``Payment In Progress`` was written (None: never)."""
    return max(record.steps_told.values(), default=None)


def should_tell(record: PaymentRecord, step: str, now: datetime, *, interval: float) -> bool:
    """At most one event per step, and at most one per ``interval`` seconds per payment."""
    if step in record.steps_told:
        return False
    last = told_at(record)
    return last is None or age_seconds(last, now) >= interval


class StepRecorder:
    """Records a step reported for a payment (``state.decide`` said ``STEP``), telling the partner when due."""

    def __init__(
        self,
        store: PaymentStore,
        *,
        clock: Callable[[], datetime],
        event_interval: float | None = None,  # None: DEFAULT_EVENT_INTERVAL_SECONDS
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval = DEFAULT_EVENT_INTERVAL_SECONDS if event_interval is None else event_interval

    def record(
        self, record: PaymentRecord, step: str, *, source: str, read: Callable[[], PaymentRecord]
    ) -> Transition:
        """The step recorded on ``record`` (re-read with ``read`` after a lost race); a repeat of the step
        already recorded during the same status writes nothing (``SAME``)."""
        for _ in range(_MAX_WRITE_ATTEMPTS):
            decision = state.decide(record.status, step)
            if decision.verdict is not state.Verdict.STEP:
                return Transition(decision.verdict, record.status, step, record)
            if record.current_step == step:
                return Transition(state.Verdict.SAME, record.status, step, record)
            moment = self._clock()
            now = isoformat(moment)
            event = None
            if should_tell(record, step, moment, interval=self._interval):
                event = step_event(record, step, occurred_at=now)
            change = StepChange(record, step, source, now, event=event, told_at=told_at(record))
            written = self._store.write_step(change)
            if written is not None:
                return Transition(state.Verdict.STEP, record.status, step, written, event)
            record = read()  # the status changed, or someone told meanwhile: decide again
        raise RuntimeError("could not record the step after repeated races")
