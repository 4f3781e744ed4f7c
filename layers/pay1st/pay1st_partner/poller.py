"""The scheduled status poller: catches lost webhooks, gives up on stale payments, re-sends stuck events.

Each run: first it re-publishes outbox events committed more than ``outbox_age`` ago and still not cleared
(their publisher died or EventBridge failed), reports refunds open longer than ``refund_max_age`` (metric
``RefundsOpenTooLong``, alarmed: there is no refund status query to settle them, contract §15), then it
checks the open payments that are due (``nextCheckAt``, see :mod:`pay1st_partner.check_schedule`), the most
overdue first, asking the gateway (§9) and applying what it says (ABANDONED is how the gateway reports an
expired payment). Payments owed a confirmation (:mod:`pay1st_partner.payments.owed`: a webhook's report that
could not be confirmed when it came) are due too, open or final, and their owed confirmations are paid first,
asking about the Pay1st reference of the attempt that reported. Every check moves the payment's ``nextCheckAt`` on, so the next page of the index is new
work; a payment still open past the give-up age is reported (``ReconcileGaveUp``) and no longer checked.

Work per run is bounded by time, not by a count: the run keeps taking due payments until the function's
deadline is near, at most ``queries_per_second`` gateway queries a second (:class:`RequestBudget`), with
``concurrency`` checks in flight. A bounded thread pool inside the run, not fan-out through SQS to a worker
function: a check is I/O (one gateway call, a few DynamoDB writes), so a few threads reach the budget (20
queries/s at 200 ms takes 4); one run enforces the stack-wide budget with one local limiter, where workers
would need a shared one (or concurrency x per-worker rate, which breaks whenever Lambda scales); and it adds
no per-payment SQS calls, queue, DLQ or second function. Runs never overlap (the template's Timeout is
below the schedule's minute), so the budget holds for the stack.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pay1st_partner.check_schedule import DEFAULT_GIVE_UP_AFTER
from pay1st_partner.clock import age_seconds, isoformat, parse_iso, utcnow
from pay1st_partner.events import EventPublisher
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.fulfilment_watch import awaits_fulfilment, report_paid_not_fulfilled
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.request_budget import RequestBudget

DEFAULT_OUTBOX_AGE = timedelta(seconds=60)
# A status query may need a few seconds (connect + read timeouts, one retry): until a check of the run has
# finished, none is started with less than this left. Then the run's own checks say how long one takes: a
# check is started while twice the longest so far (at least MIN_RESERVE_SECONDS) fits before the deadline. The
# gateway client never runs past the deadline, so a check that overruns its estimate is cut off and the payment
# stays due; a fixed 4 s left ~4 s of every minute's budget unused (2,000 lost webhooks took 3 runs, not 2).
DEFAULT_MIN_SECONDS_PER_CHECK = 4.0
MIN_RESERVE_SECONDS = 0.5
GAVE_UP = "gave_up"


class _Reserve:
    """The time a check is not started without (see DEFAULT_MIN_SECONDS_PER_CHECK), from this run's checks."""

    def __init__(self, initial: float) -> None:
        self._initial = initial
        self._longest: float | None = None
        self._lock = threading.Lock()

    def seconds(self) -> float:
        with self._lock:
            if self._longest is None:
                return self._initial
            return min(self._initial, max(MIN_RESERVE_SECONDS, 2 * self._longest))

    def note(self, took: float) -> None:
        with self._lock:
            self._longest = max(self._longest or 0.0, took)


@dataclass
class PollReport:
    republished: int = 0
    checked: int = 0
    skipped_for_time: int = 0
    gave_up: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    paid_not_fulfilled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "republished": self.republished,
            "checked": self.checked,
            "skippedForTime": self.skipped_for_time,
            "gaveUp": self.gave_up,
            "outcomes": dict(self.outcomes),
        }


class StatusPoller:
    def __init__(
        self,
        *,
        payments: PaymentRepository,
        reconciler: Reconciler,
        publisher: EventPublisher,
        batch_size: int,
        outbox_age: timedelta = DEFAULT_OUTBOX_AGE,
        min_seconds_per_check: float = DEFAULT_MIN_SECONDS_PER_CHECK,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        refunds: RefundRepository | None = None,
        refund_max_age: timedelta = timedelta(days=3),
        queries_per_second: float = 5.0,
        concurrency: int = 8,
        give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER,
        sleep: Callable[[float], None] = time.sleep,
        paid_not_fulfilled_after: timedelta = timedelta(hours=2),
    ) -> None:
        """``batch_size``: a page of the indexes (due payments are read a page at a time until the time is
        up). When a payment is first checked is the check schedule's (``nextCheckAt``), not the poller's."""
        self._refunds = refunds
        self._refund_max_age = refund_max_age
        self._payments = payments
        self._reconciler = reconciler
        self._publisher = publisher
        self._batch_size = batch_size
        self._outbox_age = outbox_age
        self._min_seconds_per_check = min_seconds_per_check
        self._clock = clock
        self._monotonic = monotonic
        self._concurrency = concurrency
        self._give_up_after = give_up_after.total_seconds()
        self._paid_not_fulfilled_after = paid_not_fulfilled_after
        self._budget = RequestBudget(queries_per_second, monotonic=monotonic, sleep=sleep)

    def run(self, *, deadline: float) -> PollReport:
        """One poll run; ``deadline`` is an absolute ``time.monotonic()`` value."""
        report = PollReport()
        now = self._clock()
        stuck = self._payments.pending_events(older_than=now - self._outbox_age, limit=self._batch_size)
        if stuck:
            logger.warning(
                "re-publishing events left in the outbox", extra={"event_ids": [e.event_id for e in stuck]}
            )
            report.republished = len(self._publisher.publish(stuck, self._payments))

        if self._refunds is not None:
            self._report_open_refunds(now)
        self._check_due(report, deadline)
        report_paid_not_fulfilled(report.paid_not_fulfilled)
        logger.info("poll run finished", extra=report.as_dict())
        return report

    def _check_due(self, report: PollReport, deadline: float) -> None:
        """Check due payments, ``concurrency`` at a time within the budget, until ``deadline`` is near."""
        reserve = _Reserve(self._min_seconds_per_check)
        seen: set[str] = set()
        running: set[Future[str | None]] = set()

        def collect(done: set[Future[str | None]]) -> None:
            for future in done:
                outcome = future.result()
                if outcome is None:
                    report.skipped_for_time += 1
                    continue
                report.checked += 1
                report.outcomes[outcome] += 1
                report.gave_up += outcome == GAVE_UP

        exhausted = False  # a read returned every due payment: nothing more to read this run
        # Each read starts where the last one ended (its last nextCheckAt, which it read ``at_start`` payments
        # at), so a run reads each due payment once. Reading from the top each time, past what the run had seen
        # (in flight, throttled, still watched), read the index by the square of what was due: PaidNotFulfilled
        # payments, due before any open one, took the run's time once there were a few thousand.
        start, at_start = "", 0
        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="poll") as pool:
            while True:
                page: list[PaymentRecord] = []
                fresh = 0  # payments this read found that the run had not seen: progress
                if not exhausted:
                    limit = self._batch_size + at_start
                    due = self._payments.due_payments(now=self._clock(), limit=limit, due_from=start)
                    # Fewer than asked for is all there is; what falls due meanwhile is the next run's.
                    exhausted = len(due) < limit
                    if due:
                        start = due[-1].next_check_at or start
                        at_start = sum(record.next_check_at == start for record in due)
                    for record in due:
                        if record.partner_reference in seen:
                            continue
                        fresh += 1
                        self._republish_stuck(record, report)
                        if record.is_final and not record.owed:  # watched until its fulfilment is delivered
                            seen.add(record.partner_reference)
                            self._watch(record, report)
                        else:
                            page.append(record)
                    page.sort(key=lambda record: not record.owed)  # owed confirmations first (stable)
                # A read of watched payments only is progress too (they moved on): read again.
                if not fresh and not running:
                    break
                if self._monotonic() >= deadline - reserve.seconds():
                    report.skipped_for_time += len(page)  # due, left for the next run
                    break
                for record in page:
                    seen.add(record.partner_reference)
                    running.add(pool.submit(self._timed_check, record, reserve, deadline))
                # Keep the threads fed: read the next page once the queue is down to what is in flight.
                while len(running) > self._concurrency or (running and not page):
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    collect(done)
                    if not page:
                        break
            done, running = wait(running)
            collect(done)

    def _republish_stuck(self, record: PaymentRecord, report: PollReport) -> None:
        """Events of a watched payment wait in its outbox with no pendingEvents marker (the watch list leads
        here): publish them when their publisher has had its time."""
        if record.pending_event_ids and record.updated_at < isoformat(self._clock() - self._outbox_age):
            events = self._payments.outbox_events(record.partner_reference)
            logger.warning(
                "re-publishing events left in the outbox", extra={"event_ids": [e.event_id for e in events]}
            )
            report.republished += len(self._publisher.publish(events, self._payments))

    def _watch(self, record: PaymentRecord, report: PollReport) -> None:
        """A final payment on the watch list with nothing owed, no query. SUCCESSFUL without a delivered
        fulfilment that may still be fulfilled: due again when ``paid_not_fulfilled_after`` has passed since it
        was paid, then counted as PaidNotFulfilled every run until delivered; anything else leaves the list
        once its outbox is empty."""
        if awaits_fulfilment(record):  # refunded, charged back, reversed: never fulfilled, not waited for
            limit = parse_iso(record.updated_at) + self._paid_not_fulfilled_after
            if self._clock() >= limit:
                report.paid_not_fulfilled.append(record.partner_reference)
            else:
                self._payments.watch_until(record.partner_reference, limit)
        else:
            self._payments.unwatch(record.partner_reference, amount=record.amount)

    def _timed_check(self, record: PaymentRecord, reserve: _Reserve, deadline: float) -> str | None:
        """:meth:`_check` once the budget gives it a slot before ``deadline`` less the reserve (None: out of
        time), its duration noted in the reserve."""
        if not self._budget.acquire(until=deadline - reserve.seconds()):
            return None
        started = self._monotonic()
        try:
            return self._check(record, deadline)
        finally:
            reserve.note(self._monotonic() - started)

    def _check(self, record: PaymentRecord, deadline: float) -> str:
        """One payment: a gateway query, then the give-up rule; its outcome."""
        if record.owed or not record.is_open or record.reference is None:
            # Owed confirmations first (DESIGN §9), final payments too; one query per payment per interval.
            return self._payments.owed().pay(record, self._reconciler, deadline=deadline)
        result = self._reconciler.refresh(record, source="poller", deadline=deadline)
        after = result.record
        if after.is_open and age_seconds(after.created_at, self._clock()) >= self._give_up_after:
            if self._payments.give_up(after.partner_reference) is not None:
                logger.error(
                    "payment still open at the give-up age: no longer checked, ask Pay1st about it",
                    extra={
                        "partnerReference": after.partner_reference,
                        "reference": after.reference,
                        "status": after.status,
                        "createdAt": after.created_at,
                    },
                )
                count("ReconcileGaveUp")
                return GAVE_UP
        return result.outcome

    def _report_open_refunds(self, now: datetime) -> None:
        assert self._refunds is not None
        stale = self._refunds.open_too_long(older_than=now - self._refund_max_age, limit=self._batch_size)
        count("RefundsOpenTooLong", len(stale))
        if stale:
            logger.warning(
                "refunds open too long: ask Pay1st about them",
                extra={
                    "refunds": [
                        f"{record.partner_reference}/{refund.refund_reference}"
                        for record in stale
                        for refund in record.refunds
                        if refund.is_open
                    ]
                },
            )
