"""The scheduled status poller: catches lost webhooks, expires stale payments, re-sends stuck events.

Each run does bounded work: first it re-publishes outbox events committed more than ``outbox_age`` ago and
still not cleared (their publisher died or EventBridge failed), then it queries the gateway (§9) for at
most ``batch_size`` open payments not written or checked for ``min_age``, least recently touched first,
and applies what the gateway says (ABANDONED is how the gateway reports an expired payment). It stops
early when the Lambda's deadline gets close. It also reports refunds open longer than ``refund_max_age``
(metric ``RefundsOpenTooLong``, alarmed): there is no refund status query to settle them (contract §15); the next run continues where this one left off because every
check moves the payment to the back of the ``openPayments`` index.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pay1st_partner.clock import utcnow
from pay1st_partner.events import EventPublisher
from pay1st_partner.observability import count, logger
from pay1st_partner.reconcile import Reconciler
from pay1st_partner.refund_repository import RefundRepository
from pay1st_partner.repository import PaymentRepository

DEFAULT_OUTBOX_AGE = timedelta(seconds=60)
# A status query needs a few seconds (connect + read timeouts, one retry); don't start one without them.
DEFAULT_MIN_SECONDS_PER_CHECK = 4.0


@dataclass
class PollReport:
    republished: int = 0
    checked: int = 0
    skipped_for_time: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "republished": self.republished,
            "checked": self.checked,
            "skippedForTime": self.skipped_for_time,
            "outcomes": dict(self.outcomes),
        }


class StatusPoller:
    def __init__(
        self,
        *,
        payments: PaymentRepository,
        reconciler: Reconciler,
        publisher: EventPublisher,
        min_age: timedelta,
        batch_size: int,
        outbox_age: timedelta = DEFAULT_OUTBOX_AGE,
        min_seconds_per_check: float = DEFAULT_MIN_SECONDS_PER_CHECK,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        refunds: RefundRepository | None = None,
        refund_max_age: timedelta = timedelta(days=3),
    ) -> None:
        self._refunds = refunds
        self._refund_max_age = refund_max_age
        self._payments = payments
        self._reconciler = reconciler
        self._publisher = publisher
        self._min_age = min_age
        self._batch_size = batch_size
        self._outbox_age = outbox_age
        self._min_seconds_per_check = min_seconds_per_check
        self._clock = clock
        self._monotonic = monotonic

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
        due = self._payments.open_payments(older_than=now - self._min_age, limit=self._batch_size)
        for index, record in enumerate(due):
            if deadline - self._monotonic() < self._min_seconds_per_check:
                report.skipped_for_time = len(due) - index
                break
            result = self._reconciler.refresh(record, source="poller", deadline=deadline)
            report.checked += 1
            report.outcomes[result.outcome] += 1
        logger.info("poll run finished", extra=report.as_dict())
        return report

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
