"""The status a returning customer is shown: asked of the gateway once when still open, rationed.

The callback is the moment the customer wants the truth, and it often arrives before Pay1st's webhook (or
instead of it, when the webhook is lost). So an open payment is refreshed through the reconciler, which
takes the payment's status-query slot first: a flood of callbacks costs at most one query per
``STATUS_QUERY_MIN_INTERVAL_SECONDS``. When the slot is taken, someone else (usually the webhook's own
confirmation, racing this callback) has just asked or is asking. If that query has already come back
(the payment was checked within the interval), its answer is in the record; if not, it is still in flight,
and the payment is re-read a few times within a short wait for its answer instead of showing a stale status.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pay1st_partner.clock import age_seconds, utcnow
from pay1st_partner.payments.reconcile import QUERY_THROTTLED, Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord

# How long a callback waits for a concurrent query's answer, and how often it re-reads meanwhile.
WAIT_FOR_OTHER_QUERY_SECONDS = 2.0
REREAD_EVERY_SECONDS = 0.2


def status_for_callback(
    record: PaymentRecord,
    *,
    reconciler: Reconciler,
    payments: PaymentRepository,
    deadline: float,
    query_interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PaymentRecord:
    """``record`` brought up to date with the gateway (at most one query per interval) before redirecting."""
    if not record.is_open:
        return record
    outcome = reconciler.refresh(record, source="callback", deadline=deadline)
    if outcome.outcome != QUERY_THROTTLED:
        return outcome.record
    current = outcome.record
    checked = current.last_checked_at
    if checked is not None and age_seconds(checked, utcnow()) < query_interval:
        return current  # the query that holds the slot has answered: this is what it said
    until = min(deadline, clock() + WAIT_FOR_OTHER_QUERY_SECONDS)
    while current.is_open and clock() + REREAD_EVERY_SECONDS < until:
        sleep(REREAD_EVERY_SECONDS)
        current = payments.get(record.partner_reference) or current
    return current
