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

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pay1st_partner.check_schedule import DEFAULT_GIVE_UP_AFTER
from pay1st_partner.clock import age_seconds, utcnow
from pay1st_partner.events import EventPublisher
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.reconcile import QUERY_THROTTLED, Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.request_budget import RequestBudget

DEFAULT_OUTBOX_AGE = timedelta(seconds=60)
# A status query needs a few seconds (connect + read timeouts, one retry); don't start one without them.
DEFAULT_MIN_SECONDS_PER_CHECK = 4.0
GAVE_UP = "gave_up"


@dataclass
class PollReport:
    republished: int = 0
    checked: int = 0
    skipped_for_time: int = 0
    gave_up: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

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
        logger.info("poll run finished", extra=report.as_dict())
        return report

    def _check_due(self, report: PollReport, deadline: float) -> None:
        """Check due payments, ``concurrency`` at a time within the budget, until ``deadline`` is near."""
        last_start = deadline - self._min_seconds_per_check
        seen: set[str] = set()
        throttled = 0  # checked this run but still due (another caller held the query slot)
        running: set[Future[str | None]] = set()

        def collect(done: set[Future[str | None]]) -> None:
            nonlocal throttled
            for future in done:
                outcome = future.result()
                if outcome is None:
                    report.skipped_for_time += 1
                    continue
                report.checked += 1
                report.outcomes[outcome] += 1
                throttled += outcome == QUERY_THROTTLED
                report.gave_up += outcome == GAVE_UP

        exhausted = False  # a read returned every due payment: nothing more to read this run
        with ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="poll") as pool:
            while True:
                page: list[PaymentRecord] = []
                if not exhausted:
                    # Payments in flight or throttled are still due in the index: read past them.
                    limit = self._batch_size + len(running) + throttled
                    due = self._payments.due_payments(now=self._clock(), limit=limit)
                    # Fewer than asked for is all there is; what falls due meanwhile is the next run's.
                    exhausted = len(due) < limit
                    page = [record for record in due if record.partner_reference not in seen]
                    page.sort(key=lambda record: not record.owed)  # owed confirmations first (stable)
                if not page and not running:
                    break
                if self._monotonic() >= last_start:
                    report.skipped_for_time += len(page)  # due, left for the next run
                    break
                for record in page:
                    seen.add(record.partner_reference)
                    running.add(pool.submit(self._check, record, last_start, deadline))
                # Keep the threads fed: read the next page once the queue is down to what is in flight.
                while len(running) > self._concurrency or (running and not page):
                    done, running = wait(running, return_when=FIRST_COMPLETED)
                    collect(done)
                    if not page:
                        break
            done, running = wait(running)
            collect(done)

    def _check(self, record: PaymentRecord, last_start: float, deadline: float) -> str | None:
        """One payment: a gateway query within the budget (None: out of time), then the give-up rule."""
        if not self._budget.acquire(until=last_start):
            return None
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
