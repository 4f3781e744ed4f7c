"""The ``PaidNotFulfilled`` gauge: SUCCESSFUL payments whose fulfilment is not delivered after some hours.

Carry1st is Merchant of Record and needs every fulfilment (contract §12), so a paid payment without a
delivered fulfilment is money taken for nothing the gateway knows of. The status poller's scheduled run
emits the gauge (alarmed in the template) every minute, read from the ``byStatus`` index (status,
createdAt; the fulfilment is projected on it), never a scan: the SUCCESSFUL payments created between
``lookback`` before the cut-off and the cut-off, ``older_than`` ago. The count is the same rule as
``pay1st_ops report``'s "paidNotFulfilled" (a fulfilment without ``deliveredAt``), which lists them.

A module of its own, called from the poller's handler in one line (``runtime.report_paid_not_fulfilled``): the
gauge shares the poller's schedule, nothing of its reconciliation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pay1st_partner import state
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.observability import count, logger
from pay1st_partner.store.port import StatusIndex

# How far back before the cut-off payments are counted: the operators' report window (pay1st_ops report
# --days 7). Older ones are left to that report; reading further every minute costs index reads for little.
DEFAULT_LOOKBACK = timedelta(days=7)
# Index items read per run at most (a few hundred bytes each, ~1 MB), newest first: the gauge then says "at
# least this many" over the most recent payments, which is all its alarm (>= 1) needs; `pay1st_ops report`
# lists them all.
DEFAULT_MAX_READ = 2000
_LOGGED_REFERENCES = 20


def is_delivered(item: Mapping[str, Any]) -> bool:
    return bool((item.get("fulfilment") or {}).get("deliveredAt"))


def paid_not_fulfilled(
    index: StatusIndex,
    *,
    older_than: timedelta,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_read: int = DEFAULT_MAX_READ,
) -> tuple[list[str], bool]:
    """(partnerReferences paid ``older_than`` ago or more and not delivered, whether ``max_read`` was reached:
    then there may be more)."""
    cut_off = now - older_than
    paid = index.by_status(
        state.SUCCESSFUL,
        created_after=isoformat(cut_off - lookback),
        created_before=isoformat(cut_off),
        limit=max_read,
        newest_first=True,  # past the read limit, the oldest are the ones left out (the report lists them)
    )
    return [str(item["partnerReference"]) for item in paid if not is_delivered(item)], len(paid) >= max_read


def report_paid_not_fulfilled(
    index: StatusIndex,
    *,
    older_than: timedelta,
    clock: Callable[[], datetime] = utcnow,
    lookback: timedelta = DEFAULT_LOOKBACK,
    max_read: int = DEFAULT_MAX_READ,
) -> int | None:
    """Emit the gauge (a Count on the shared Metrics, like ``RefundsOpenTooLong``); its value, or None.

    A failed read is logged and emits nothing rather than failing the poller's run: its reconciliation
    matters more, and the alarm treats a missing value as breaching.
    """
    try:
        undelivered, cut_short = paid_not_fulfilled(
            index, older_than=older_than, now=clock(), lookback=lookback, max_read=max_read
        )
    except (ClientError, BotoCoreError):
        logger.exception("PaidNotFulfilled not measured: the byStatus index could not be read")
        return None
    count("PaidNotFulfilled", len(undelivered))
    if undelivered:
        logger.warning(
            "paid payments without a delivered fulfilment: see `pay1st_ops report`",
            extra={
                "paid_not_fulfilled": len(undelivered),
                "older_than_hours": older_than.total_seconds() / 3600,
                "partner_references": undelivered[:_LOGGED_REFERENCES],
                "read_limit_reached": cut_short,
            },
        )
    return len(undelivered)
