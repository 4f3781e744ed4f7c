"""``find`` and ``report``: payments by reference, by status and age, and what needs an operator, from keys,
the keys-only watch list and scans (operators can wait for a scan; an index would cost every payment's writes).

- a scan by status and age: counts by status of payments created in the window, CREATE_UNKNOWN and stuck
  CREATING, PENDING too long, SUCCESSFUL with their fulfilment (PaidNotFulfilled's rule);
- ``watchList``: open payments, least recently touched first (every shard); its give-up shards: payments
  still open at the give-up age, no longer checked by the poller;
- the hourly rejection budget items of WebhookEventsTable (``rejected-budget#<hour>``, counts by reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pay1st_partner import state
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.payments.fulfilment_watch import awaits_fulfilment_item
from pay1st_partner.webhooks.rejections import REASON_COUNT_PREFIX, budget_key

from pay1st_ops.actions import dead_letter_depth
from pay1st_ops.wiring import Services

# What ``report`` cannot tell without a scan of a table, said in its output.
LIMITS = (
    "counts by status cover payments created in the window only (the index is read by status and creation time)",
    "webhooks refused after authentication (invalid JSON or event, another partner) carry no partnerReference "
    "and are not indexed; their count is the WebhookRejected metric",
    "rejections over the hourly budget are not kept: only the WebhookRejected metric counts them",
)
STUCK_CREATING = timedelta(minutes=5)  # a create holds CREATING for at most a function timeout


def row(item: Mapping[str, Any]) -> dict[str, Any]:
    fulfilment = item.get("fulfilment") or {}
    return {
        "partnerReference": item["partnerReference"],
        "status": item["status"],
        "reference": item.get("reference"),
        "createdAt": item["createdAt"],
        "fulfilment": "DELIVERED" if fulfilment.get("deliveredAt") else "QUEUED" if fulfilment else "none",
    }


def find(
    services: Services,
    *,
    partner_reference: str | None = None,
    reference: str | None = None,
    status: str | None = None,
    older_than: timedelta | None = None,
    newer_than: timedelta | None = None,
    open_only: bool = False,
    limit: int = 50,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    now = now or utcnow()
    if partner_reference is not None:
        item = services.store.item(partner_reference)
        return [row(item)] if item is not None and "status" in item else []
    if reference is not None:
        record = services.payments.find_by_reference(reference)
        found = None if record is None else services.store.item(record.partner_reference)
        return [row(found)] if found is not None else []
    if open_only:
        records = services.payments.open_payments(older_than=now - (older_than or timedelta(0)), limit=limit)
        return [row(item) for r in records if (item := services.store.item(r.partner_reference)) is not None]
    if status is None:
        raise ValueError("find needs a reference, a status or --open")
    items = services.store.by_status(
        status,
        created_after=isoformat(now - newer_than) if newer_than else "0",
        created_before=isoformat(now - older_than) if older_than else "~",
        limit=limit,
    )
    return [row(item) for item in items]


def gave_up(services: Services, *, limit: int) -> list[dict[str, Any]]:
    records = services.payments.gave_up_payments(limit=limit)
    items = [item for r in records if (item := services.store.item(r.partner_reference)) is not None]
    return [{**row(item), "gaveUpAt": item.get("gaveUpAt")} for item in items]


def count_by_status(services: Services, since: str) -> dict[str, int]:
    """Payments created since ``since`` by status: one scan (operators' read; no index pays for it)."""
    kwargs: dict[str, Any] = {
        "TableName": services.target.resource("PaymentsTable"),
        "FilterExpression": "createdAt > :since AND attribute_exists(#status)",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":since": {"S": since}},
        "ProjectionExpression": "#status",
    }
    counts: dict[str, int] = {}
    while True:
        response = services.dynamodb.scan(**kwargs)
        for item in response.get("Items", []):
            status = item["status"]["S"]
            counts[status] = counts.get(status, 0) + 1
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return dict(sorted(counts.items()))


def rejections_by_reason(services: Services, now: datetime, hours: int = 24) -> dict[str, int]:
    """Kept webhook rejections of the last ``hours`` by reason, from the hourly budget items (by key)."""
    keys = [{"eventId": {"S": budget_key(now - timedelta(hours=h))}} for h in range(hours + 1)]
    table = services.target.resource("WebhookEventsTable")
    totals: dict[str, int] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        while request:
            response = services.dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                for name, value in item.items():
                    if name.startswith(REASON_COUNT_PREFIX):
                        reason = name.removeprefix(REASON_COUNT_PREFIX)
                        totals[reason] = totals.get(reason, 0) + int(value["N"])
            request = response.get("UnprocessedKeys") or {}
    return dict(sorted(totals.items()))


def report(
    services: Services,
    *,
    days: float = 7.0,
    pending_hours: float = 2.0,
    fulfilment_hours: float = 2.0,
    now: datetime | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    now = now or utcnow()
    since = isoformat(now - timedelta(days=days))
    store = services.store
    unknown = [row(i) for i in store.by_status(state.CREATE_UNKNOWN, limit=limit)]
    unknown += [
        row(i)
        for i in store.by_status(state.CREATING, created_before=isoformat(now - STUCK_CREATING), limit=limit)
    ]
    pending_before = isoformat(now - timedelta(hours=pending_hours))
    pending = [
        row(i)
        for status in (state.PENDING, state.PENDING_INVESTIGATION)
        for i in store.by_status(status, created_before=pending_before, limit=limit)
    ]
    paid = store.by_status(
        state.SUCCESSFUL,
        created_after=since,
        created_before=isoformat(now - timedelta(hours=fulfilment_hours)),
        limit=10 * limit,
    )
    undelivered = [row(i) for i in paid if awaits_fulfilment_item(i)][:limit]  # PaidNotFulfilled's rule
    return {
        "at": isoformat(now),
        "window": {"days": days, "since": since},
        "countsByStatus": count_by_status(services, since),
        "createOutcomeUnknown": unknown,
        "pendingTooLong": {"hours": pending_hours, "payments": pending},
        "paidNotFulfilled": {"hours": fulfilment_hours, "payments": undelivered},
        # Still open at the give-up age (RECONCILE_GIVE_UP_SECONDS): the poller stopped asking; ask Pay1st.
        "reconcileGaveUp": gave_up(services, limit=limit),
        "fulfilmentDeadLetters": dead_letter_depth(services),
        "webhooksRejectedLastDay": rejections_by_reason(services, now),
        "limits": list(LIMITS),
    }
