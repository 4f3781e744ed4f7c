"""The ``PaidNotFulfilled`` gauge: SUCCESSFUL payments whose fulfilment is not delivered after some hours.

Carry1st is Merchant of Record and needs every fulfilment (contract §12), so a paid payment without a
delivered fulfilment is money taken for nothing the gateway knows of. A SUCCESSFUL payment stays on the watch
list (index ``watchList``) until its fulfilment is delivered, at no write of its own (its keys do not change);
the status poller's run meets it when it is due, moves it on to the hours after it was paid, and from then on
counts it every run: the gauge (alarmed in the template) is emitted every minute from that count
(:func:`report_paid_not_fulfilled`). ``pay1st_ops report``'s "paidNotFulfilled" lists them by the same rule
(:func:`awaits_fulfilment`: no fulfilment delivered, and one still allowed), from :func:`paid_not_fulfilled`
over the operators' status read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pay1st_partner import state
from pay1st_partner.clock import isoformat
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.fulfilment_guard import refusal
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import record_from_item
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


def awaits_fulfilment(record: PaymentRecord) -> bool:
    """PaidNotFulfilled's rule: SUCCESSFUL, no fulfilment delivered, and one still allowed (a refunded, charged
    back or reversed payment is never fulfilled, :mod:`pay1st_partner.payments.fulfilment_guard`: nothing is
    missing there)."""
    delivered = bool((record.fulfilment or {}).get("deliveredAt"))
    return record.status == state.SUCCESSFUL and not delivered and refusal(record) is None


def awaits_fulfilment_item(item: Mapping[str, Any]) -> bool:
    """:func:`awaits_fulfilment` of a plain-valued payment item (the operators' status read)."""
    return awaits_fulfilment(record_from_item(item))


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
    undelivered = [str(item["partnerReference"]) for item in paid if awaits_fulfilment_item(item)]
    return undelivered, len(paid) >= max_read


def report_paid_not_fulfilled(undelivered: list[str]) -> int:
    """Emit the gauge (a Count on the shared Metrics, like ``RefundsOpenTooLong``) for the paid payments the
    status poller's run found past the hours without a delivered fulfilment, and name them in the log."""
    count("PaidNotFulfilled", len(undelivered))
    if undelivered:
        logger.warning(
            "paid payments without a delivered fulfilment: see `pay1st_ops report`",
            extra={
                "paid_not_fulfilled": len(undelivered),
                "partner_references": undelivered[:_LOGGED_REFERENCES],
            },
        )
    return len(undelivered)
