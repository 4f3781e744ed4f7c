"""What ``GET /payments/{partnerReference}`` answers: the stored payment, refreshed from the gateway first
when it is open and stale (§9, :class:`pay1st_partner.payments.reconcile.Reconciler`).

The refresh is a courtesy, never a condition of the answer: a gateway that cannot be reached is an outcome of
the refresh, and a store that refuses one of its writes (a DynamoDB throttle on the query slot's claim, the
check or the transition) is caught here; either way the stored status is answered and the poller refreshes
the payment later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from pay1st_partner.clock import age_seconds, utcnow
from pay1st_partner.errors import PaymentNotFound
from pay1st_partner.observability import logger
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord


def is_stale(record: PaymentRecord, *, now: datetime, stale_after: float) -> bool:
    """Open, known to the gateway, and not written or checked for ``stale_after`` seconds."""
    if not record.is_open or record.reference is None:
        return False
    return age_seconds(record.updated_at, now) >= stale_after


def current_payment(
    partner_reference: str,
    *,
    payments: PaymentRepository,
    reconciler: Reconciler,
    stale_after: float,
    deadline: float | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> PaymentRecord:
    """The stored payment, refreshed from the gateway first when open and stale (404 when unknown)."""
    record = payments.get(partner_reference)
    if record is None:
        raise PaymentNotFound()
    if not is_stale(record, now=clock(), stale_after=stale_after):
        return record
    # If the gateway cannot be reached the stored status is still the best answer we have (an outcome of
    # refresh). So it is when DynamoDB refuses one of the refresh's writes (a throttled claim of the query
    # slot, check or transition): the refresh is optional, the poller does it later, and a read must not
    # become a 500. Answered from a new read (what the refresh committed before the fault), or as first read.
    try:
        return reconciler.refresh(record, source="status", deadline=deadline).record
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "status refresh failed in the store; answering the stored status",
            extra={"partnerReference": partner_reference, "error_type": type(exc).__name__},
        )
    try:
        return payments.get(partner_reference) or record
    except (ClientError, BotoCoreError):
        return record
