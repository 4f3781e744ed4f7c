"""A payment's events, as published, rebuilt from its item; and its whole story in time order.

Published events leave the outbox, so which events a payment has is read from what committed them: each
status in ``statusHistory`` that has a detail-type, each refund's history, each reversal. Their ids are the
ones first published (``{partnerReference}:{status}``, ``...:refund:{refundReference}:{suffix}``,
``...:{REFUND|CHARGEBACK}``) and their ``occurredAt`` is the transition's time; an event still in the outbox
is taken from there as written. Consumers dedupe on the id, so publishing one again is safe.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pay1st_partner.events import payment_event, refund_events, reversal_event
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.store.items import record_from_item

PENDING = "pending"  # still in the outbox: not (yet) accepted by EventBridge
PUBLISHED = "published"


@dataclass(frozen=True)
class KnownEvent:
    event: OutboxEvent
    state: str  # PENDING or PUBLISHED


def payment_events(item: Mapping[str, Any]) -> list[KnownEvent]:
    """Every event the payment's transitions committed, in the order they occurred."""
    record = record_from_item(item)
    outbox = {
        event.event_id: event
        for event in (OutboxEvent.from_stored(item, text) for text in item.get("outbox", {}).values())
    }
    rebuilt: list[OutboxEvent] = []
    history = item.get("statusHistory", [])
    for previous, entry in itertools.pairwise(history):
        before = dataclasses.replace(record, status=previous["status"])
        event = payment_event(before, entry["status"], reference=record.reference, occurred_at=entry["at"])
        if event is not None:
            rebuilt.append(event)
    for data in item.get("refunds", {}).values():
        steps = data.get("history", [])
        for previous, entry in itertools.pairwise(steps):
            current = record.refund(data["refundReference"])
            if current is None:
                continue
            refund = dataclasses.replace(current, status=previous["status"])
            rebuilt += refund_events(
                refund,
                entry["status"],
                reference=record.reference,
                pay1st_refund_reference=data.get("pay1stRefundReference"),
                handling_type=data.get("handlingType"),
                occurred_at=entry["at"],
            )
    for kind, reversal in item.get("reversals", {}).items():
        rebuilt.append(reversal_event(record, kind, occurred_at=reversal["at"]))
    known = []
    for event in rebuilt:
        waiting = outbox.pop(event.event_id, None)
        known.append(KnownEvent(waiting, PENDING) if waiting else KnownEvent(event, PUBLISHED))
    known += [KnownEvent(event, PENDING) for event in outbox.values()]  # nothing else should be there
    return sorted(known, key=lambda k: str(k.event.detail.get("occurredAt", "")))


@dataclass(frozen=True)
class Entry:
    at: str
    what: str  # a short kind: created, status, attempt, webhook, query, event, fulfilment, refund, reversal, audit
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "what": self.what,
            "text": self.text,
            **({"data": dict(self.data)} if self.data else {}),
        }


def story(item: Mapping[str, Any], webhooks: Sequence[Mapping[str, Any]]) -> list[Entry]:
    """The payment's whole story, oldest first."""
    ref = item["partnerReference"]
    entries = [
        Entry(
            item["createdAt"],
            "created",
            f"create {ref}: {item['amount']} {item['currencyCode']} ({item['countryCode']})",
            {"reference": item.get("reference"), "channelId": item.get("channelId")},
        )
    ]
    for step in item.get("statusHistory", []):
        entries.append(Entry(step["at"], "status", f"status {step['status']} (by {step['source']})"))
    if item.get("lastUnknownStatus"):
        entries.append(
            Entry(
                item.get("lastUnknownStatusAt", item["updatedAt"]),
                "status",
                f"gateway's latest word {item['lastUnknownStatus']} (not a transition)",
            )
        )
    for conflict in item.get("conflicts", []):
        entries.append(
            Entry(
                conflict["at"],
                "status",
                f"CONFLICT: {conflict['status']} reported by {conflict['source']}, "
                f"{conflict['recordedStatus']} recorded (alarmed)",
            )
        )
    entries += _attempt_entries(item)
    queries = (item.get("statusQueries") or {}).values()
    entries += [_query_entry(query) for query in queries]
    if item.get("lastQueryAt") and not queries:  # a payment from before the history was kept
        priority = " (webhook confirmation)" if item.get("lastQueryPriority") else ""
        entries.append(Entry(item["lastQueryAt"], "query", f"last status query to Pay1st{priority}"))
    for hook in webhooks:
        entries.append(_webhook_entry(hook))
    for known in payment_events(item):
        event = known.event
        entries.append(
            Entry(
                str(event.detail.get("occurredAt", "")),
                "event",
                f"event {event.detail_type} [{known.state}] id {event.event_id}",
            )
        )
    entries += _fulfilment_entries(item.get("fulfilment"))
    for data in item.get("refunds", {}).values():
        for step in data.get("history", []):
            entries.append(
                Entry(
                    step["at"],
                    "refund",
                    f"refund {data['refundReference']} {data['amount']} {data['currencyCode']}: "
                    f"{step['status']} (by {step['source']})",
                )
            )
    for kind, reversal in item.get("reversals", {}).items():
        entries.append(
            Entry(reversal["at"], "reversal", f"{kind} confirmed by Pay1st (by {reversal['source']})")
        )
    for audit in item.get("audit", []):
        entries.append(
            Entry(
                audit["at"],
                "audit",
                f"operator {audit['who']}: {audit['action']} {audit.get('detail', '')}".rstrip(),
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


def _attempt_entries(item: Mapping[str, Any]) -> list[Entry]:
    """Superseded attempts (README "Attempts") and, once they ran out, the orphans left at Pay1st."""
    found = []
    for attempt in item.get("attempts", []):
        paid = f", PAID {attempt['paidAt']} as {attempt.get('reference')}" if attempt.get("paidAt") else ""
        found.append(
            Entry(
                str(attempt["supersededAt"]),
                "attempt",
                f"attempt {attempt['partnerReference']} superseded ({attempt.get('reason')}){paid}",
            )
        )
    if item.get("attemptsExhaustedAt"):
        orphans = [str(a["partnerReference"]) for a in item.get("attempts", []) if not a.get("paidAt")]
        if item.get("status") == "CREATE_UNKNOWN":  # not adopted since
            orphans.append(str(item.get("attemptReference") or item["partnerReference"]))
        found.append(
            Entry(
                str(item["attemptsExhaustedAt"]),
                "attempt",
                f"ATTEMPTS EXHAUSTED (alarmed): {len(orphans)} orphaned attempts at Pay1st, no checkout link "
                f"for any: {', '.join(orphans)}. Ask Pay1st to cancel them; one reported paid still pays "
                "this payment",
                {"orphanedAttempts": orphans},
            )
        )
    return found


def _query_entry(query: Mapping[str, Any]) -> Entry:
    """One status query (``payment_items`` ``statusQueries``): who asked, the answer or the error."""
    if query.get("error"):
        http = f" HTTP {query['httpStatus']}" if query.get("httpStatus") is not None else ""
        said = f"failed: {query['error']}{http}"
    else:
        said = f"Pay1st said {query.get('answer')}"
    return Entry(
        str(query["at"]),
        "query",
        f"status query by {query.get('by')}: {said} -> {query.get('outcome')}",
        {key: query[key] for key in ("by", "answer", "error", "httpStatus", "outcome") if key in query},
    )


def _webhook_entry(hook: Mapping[str, Any]) -> Entry:
    scheme = hook.get("signatureScheme") or ("verified" if hook.get("signatureVerified") else "UNSIGNED")
    received = int(hook.get("receivedCount", 1))
    repeats = f", received {received} times" if received > 1 else ""
    replays = f", replayed by operators {int(hook['replayCount'])} times" if hook.get("replayCount") else ""
    kind = f"refund webhook {hook.get('refundReference')}" if hook.get("kind") == "refund" else "webhook"
    return Entry(
        str(hook["receivedAt"]),
        "webhook",
        # The eventId ends the line: it is what replay-webhook asks for.
        f"{kind} {hook.get('reportedStatus', '?')} ({scheme}) -> {hook.get('outcome')}{repeats}{replays}"
        f", eventId {hook['eventId']}",
        {"eventId": hook["eventId"], "reference": hook.get("reference")},
    )


def _fulfilment_entries(fulfilment: Mapping[str, Any] | None) -> list[Entry]:
    if not fulfilment:
        return []
    items = ", ".join(
        f"{i['quantity']} x {i['sku']} {i['fulfilmentStatus']}" for i in fulfilment.get("items", [])
    )
    found = [Entry(fulfilment["recordedAt"], "fulfilment", f"fulfilment recorded and queued: {items}")]
    if fulfilment.get("deliveredAt"):
        found.append(
            Entry(fulfilment["deliveredAt"], "fulfilment", "fulfilment delivered to Pay1st (§12 accepted)")
        )
    found += [_attempt_entry(attempt) for attempt in fulfilment.get("attempts", [])]
    return found


def _attempt_entry(attempt: Mapping[str, Any]) -> Entry:
    """A delivery attempt kept by the sender (``fulfilment.attempts``): the one that delivered, with how
    many receives of its message came before it (attempts that failed: their errors are in the logs)."""
    number = attempt.get("attempt")
    text = f"fulfilment attempt {number if number is not None else '?'}: {attempt.get('outcome')}"
    if number is not None and int(number) > 1:
        since = f" since {attempt['firstAttemptAt']}" if attempt.get("firstAttemptAt") else ""
        text += f" after {int(number) - 1} failed attempt(s){since} (their errors: the sender's logs)"
    return Entry(str(attempt["at"]), "fulfilment", text, dict(attempt))


def summary(item: Mapping[str, Any]) -> dict[str, Any]:
    """The payment now, for the head of ``show``."""
    fulfilment = item.get("fulfilment") or {}
    return {
        "partnerReference": item["partnerReference"],
        "reference": item.get("reference"),
        "status": item["status"],
        "amount": item["amount"],
        "currencyCode": item["currencyCode"],
        "createdAt": item["createdAt"],
        "updatedAt": item["updatedAt"],
        "fulfilment": "DELIVERED" if fulfilment.get("deliveredAt") else "QUEUED" if fulfilment else "none",
        "pendingEvents": sorted(item.get("outbox", {})),
        "reversals": sorted(item.get("reversals", {})),
    }
