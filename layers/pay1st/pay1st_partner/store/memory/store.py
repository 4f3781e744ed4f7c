"""The payments store in memory: the same contract as DynamoDB, for fast tests of the domain's rules.

Items are plain dicts in the DynamoDB layout (:mod:`pay1st_partner.store.items`), so the two stores map
records identically; one lock makes each write atomic, as a DynamoDB conditional write is. Every read
returns a copy, so nothing outside can change a stored item. Not used in Lambda.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeGuard

from pay1st_partner import state
from pay1st_partner.errors import PaymentNotFound
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import (
    GAVE_UP_MARKER,
    OPEN_MARKER,
    OUTBOX_PENDING,
    OWED_MARKER,
    clone,
    history_entry,
    marker_partitions,
    record_from_item,
    sharded,
    stays_watched,
)
from pay1st_partner.store.memory.attempts import MemoryAttemptWrites
from pay1st_partner.store.memory.items import add_events, own_claim
from pay1st_partner.store.memory.owed import MemoryOwedWrites, final_schedule, has_owed
from pay1st_partner.store.memory.refunds import MemoryRefundWrites
from pay1st_partner.store.memory.steps import MemoryStepWrites
from pay1st_partner.store.memory.transactions import MemoryTransactionWrites
from pay1st_partner.store.port import QueryWanted, StatusChange, StatusQueryNote

_ZERO = Decimal(0)


class InMemoryPaymentStore(
    MemoryAttemptWrites, MemoryOwedWrites, MemoryRefundWrites, MemoryStepWrites, MemoryTransactionWrites
):
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        # The webhook receipts written with transitions (DynamoDB: on the webhook events table), by event id.
        self.receipts: dict[str, dict[str, Any]] = {}

    def item(self, partner_reference: str) -> dict[str, Any] | None:
        """A copy of the raw stored item (what a test would read from the table)."""
        with self._lock:
            found = self._items.get(partner_reference)
            return clone(found) if found is not None else None

    def _record(self, item: Mapping[str, Any]) -> PaymentRecord:
        return record_from_item(item)

    def _existing(self, partner_reference: str) -> dict[str, Any]:
        item = self._items.get(partner_reference)
        if item is None:
            raise PaymentNotFound()  # DynamoDB: a failed attribute_exists condition
        return item

    # ----------------------------------------------------------------- reads

    def get(self, partner_reference: str) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            return self._record(item) if item is not None else None

    def find_by_reference(self, reference: str) -> PaymentRecord | None:
        with self._lock:
            for item in self._items.values():
                if item.get("reference") == reference:
                    return self._record(item)
        return None

    def _sparse_index(
        self, marker: str, values: list[str], sort_key: str, below: str, start: str = ""
    ) -> list[dict[str, Any]]:
        """What sparse GSI partitions (``marker`` in ``values``, merged by ``sort_key``) hold from ``start`` to
        below ``below``; as in DynamoDB, an item without the sort key is in no index."""
        partitions = frozenset(values)
        found = [
            item
            for item in self._items.values()
            # The sort key first: most items are in no index (a test for it is cheaper than a .get).
            if sort_key in item and item.get(marker) in partitions and start <= item[sort_key] < below
        ]
        return sorted(found, key=lambda item: item[sort_key])

    def _watched(self, markers: tuple[str, ...], below: str, start: str = "") -> list[dict[str, Any]]:
        shards = [shard for marker in markers for shard in marker_partitions(marker, legacy=False)]
        return self._sparse_index("openMarker", shards, "nextCheckAt", below, start)

    def open_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        with self._lock:
            found = [
                item
                for item in self._watched((OPEN_MARKER,), "~")
                if state.is_open(item["status"]) and item["updatedAt"] < older_than
            ]
            found.sort(key=lambda item: item["updatedAt"])
            return [self._record(item) for item in found[:limit]]

    def due_payments(self, *, due_before: str, limit: int, due_from: str = "") -> list[PaymentRecord]:
        with self._lock:
            due = self._watched((OPEN_MARKER, OWED_MARKER), due_before, due_from)
            return [self._record(item) for item in due[:limit]]

    def gave_up_payments(self, *, limit: int) -> list[PaymentRecord]:
        with self._lock:
            return [self._record(item) for item in self._watched((GAVE_UP_MARKER,), "~")[:limit]]

    def outbox_events(self, partner_reference: str) -> list[OutboxEvent]:
        with self._lock:
            item = self._items.get(partner_reference) or {}
            return [OutboxEvent.from_stored(item, text) for text in item.get("outbox", {}).values()]

    def pending_events(self, *, older_than: str, limit: int) -> list[OutboxEvent]:
        with self._lock:
            pending = marker_partitions(OUTBOX_PENDING)
            waiting = self._sparse_index("outboxMarker", pending, "outboxSince", older_than)
            return [
                OutboxEvent.from_stored(item, text)
                for item in waiting[:limit]
                for text in item.get("outbox", {}).values()
            ]

    # ---------------------------------------------------------------- writes

    def put_claim(self, item: Mapping[str, Any]) -> bool:
        with self._lock:
            existing = self._items.get(item["partnerReference"])
            if existing is not None:  # taken: by this very claim (a retried write), or by another request
                return bool(item.get("claimId")) and existing.get("claimId") == item.get("claimId")
            self._items[item["partnerReference"]] = clone(dict(item))
            return True

    def delete_claim(self, partner_reference: str) -> None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is not None and item["status"] == state.CREATING:
                del self._items[partner_reference]

    def write_transition(self, change: StatusChange) -> PaymentRecord | None:
        record = change.record
        with self._lock:
            item = self._items.get(record.partner_reference)
            if item is None or item["status"] != record.status or (has_owed(item) and not record.owed):
                return None
            adopting = record.reference is None and change.adopt_reference is not None
            if adopting and (
                item.get("reference") is not None or item.get("attemptReference") != record.attempt_reference
            ):
                return None
            item["status"] = change.status
            item["updatedAt"] = change.at
            item.setdefault("statusHistory", []).append(
                history_entry(change.status, change.at, change.source)
            )
            if adopting:
                item["reference"] = change.adopt_reference
            # A SUCCESSFUL payment with nothing owed stays on the watch list (its event unmarked), as on DynamoDB.
            final = state.is_final(change.status)
            paid = final and not record.owed and stays_watched(change.status, item.get("reference"))
            if paid:
                item["openMarker"] = sharded(OPEN_MARKER, record.partner_reference)
                item.setdefault("nextCheckAt", change.at)
            elif final:
                final_schedule(item, record)
            elif item.get("reference") is not None:
                item["openMarker"] = sharded(OPEN_MARKER, record.partner_reference)
                next_check = change.next_check_at or change.at
                item["nextCheckAt"] = item.get("nextCheckAt", next_check) if record.owed else next_check
            if change.query is not None:
                _add_query(item, change.query)
            if change.event is not None:
                add_events(item, (change.event,), change.at, marked=not paid)
            if change.receipt is not None:
                receipt = change.receipt
                self.receipts.setdefault(receipt.event_id, {}).update(
                    {**receipt.details, "outcome": receipt.outcome, "processedAt": receipt.at}
                )
            return self._record(item)

    def note_unknown(self, partner_reference: str, status: str, at: str) -> PaymentRecord:
        with self._lock:
            item = self._existing(partner_reference)
            item["lastUnknownStatus"] = status
            item["lastUnknownStatusAt"] = at
            return self._record(item)

    def add_conflict(self, partner_reference: str, conflict: Mapping[str, Any]) -> PaymentRecord:
        with self._lock:
            item = self._existing(partner_reference)
            item.setdefault("conflicts", []).append(dict(conflict))
            return self._record(item)

    def claim_status_query(self, partner_reference: str, *, at: str, cutoff: str, priority: bool) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return False
            last = item.get("lastQueryAt")
            free = last is None or last <= cutoff or (priority and item.get("lastQueryPriority") is False)
            if not free:
                return False
            item["lastQueryAt"] = at
            item["lastQueryPriority"] = priority
            return True

    def get_claiming_query(
        self, partner_reference: str, *, at: str, cutoff: str, priority: bool, when: QueryWanted
    ) -> tuple[PaymentRecord | None, bool]:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return None, False
            wanted = (
                item["status"] in when.statuses
                and item.get("reference") in (None, when.reference)
                and item["currencyCode"] == when.currency_code
                and item["amount"] == when.amount
            )
            last = item.get("lastQueryAt")
            free = last is None or last <= cutoff or (priority and item.get("lastQueryPriority") is False)
            if wanted and free:
                item["lastQueryAt"] = at
                item["lastQueryPriority"] = priority
            return self._record(item), wanted and free

    def touch_checked(
        self, partner_reference: str, at: str, *, query: StatusQueryNote | None = None
    ) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return None
            item["lastCheckedAt"] = item["updatedAt"] = at
            if query is not None:
                _add_query(item, query)
            return self._record(item)

    def schedule_check(
        self, partner_reference: str, at: str, next_check_at: str, *, query: StatusQueryNote | None = None
    ) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if not _is_scheduled(item) or has_owed(item):
                return None
            item["lastCheckedAt"] = item["updatedAt"] = at
            if query is not None:
                _add_query(item, query)
            item["nextCheckAt"] = next_check_at
            item["openMarker"] = sharded(OPEN_MARKER, partner_reference)
            return self._record(item)

    def give_up(self, partner_reference: str, at: str) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if not _is_scheduled(item) or has_owed(item):
                return None
            item["openMarker"] = sharded(GAVE_UP_MARKER, partner_reference)
            item["nextCheckAt"] = item["gaveUpAt"] = at
            return self._record(item)

    def clear_event(self, partner_reference: str, event_id: str) -> None:
        with self._lock:
            item = self._items.get(partner_reference)
            outbox = item.get("outbox", {}) if item is not None else {}
            if item is None or event_id not in outbox:
                return
            del outbox[event_id]
            if not outbox:
                item.pop("outboxMarker", None)
                item.pop("outboxSince", None)

    def put_fulfilment(
        self, partner_reference: str, fulfilment: Mapping[str, Any], *, amount: Decimal
    ) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is not None and own_claim(item.get("fulfilment"), fulfilment):
                return self._record(item)
            if (
                item is None
                or item["status"] != state.SUCCESSFUL
                or "fulfilment" in item
                or item.get("reversals")
                or item.get("refundReserved", _ZERO) >= amount
            ):
                return None
            item["fulfilment"] = clone(dict(fulfilment))
            return self._record(item)

    def mark_fulfilment_delivered(
        self, partner_reference: str, at: str, *, attempt: Mapping[str, Any] | None = None
    ) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None or "fulfilment" not in item:
                return False
            item["fulfilment"].setdefault("deliveredAt", at)
            if attempt is not None:
                item["fulfilment"].setdefault("attempts", []).append(clone(dict(attempt)))
            if not item.get("outbox") and not has_owed(item):
                item.pop("openMarker", None)
                item.pop("nextCheckAt", None)
            return True

    def watch_until(self, partner_reference: str, next_check_at: str) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            marker = str((item or {}).get("openMarker", ""))
            if (
                item is None
                or not marker.startswith((OPEN_MARKER, OWED_MARKER + "#"))
                or has_owed(item)
                or item["status"] != state.SUCCESSFUL
                or (item.get("fulfilment") or {}).get("deliveredAt")
            ):
                return False
            item["nextCheckAt"] = next_check_at
            item["openMarker"] = sharded(OPEN_MARKER, partner_reference)
            return True

    def unwatch(self, partner_reference: str, *, amount: Decimal) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            if (
                item is None
                or "openMarker" not in item
                or not state.is_final(item["status"])
                or item.get("outbox")
                or has_owed(item)
                or (
                    item["status"] == state.SUCCESSFUL
                    and not (item.get("fulfilment") or {}).get("deliveredAt")
                    and not item.get("reversals")
                    and item.get("refundReserved", _ZERO) < amount
                )
            ):
                return False
            item.pop("openMarker", None)
            item.pop("nextCheckAt", None)
            return True

    # ------------------------------------------------------------------- operators (pay1st_ops)

    def by_status(
        self,
        status: str,
        *,
        created_after: str = "0",
        created_before: str = "~",
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Mapping[str, Any]]:
        with self._lock:
            found: list[Mapping[str, Any]] = [
                clone(item)
                for item in self._items.values()
                if item.get("status") == status and created_after < item["createdAt"] < created_before
            ]
        return sorted(found, key=lambda item: item["createdAt"], reverse=newest_first)[:limit]

    def add_audit(self, partner_reference: str, entry: Mapping[str, Any], *, keep: int) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return False
            item["audit"] = [*item.get("audit", []), clone(dict(entry))][-keep:]
            item["auditCount"] = item.get("auditCount", 0) + 1
            return True


def _is_scheduled(item: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """Open and on the check schedule: not settled, not given up (``GAVEUP#n``)."""
    return item is not None and str(item.get("openMarker", "")).startswith(OPEN_MARKER)


def _add_query(item: dict[str, Any], note: StatusQueryNote) -> None:
    queries = {} if note.create else item.setdefault("statusQueries", {})
    queries[note.key] = clone(dict(note.entry))
    for key in note.drop:
        queries.pop(key, None)
    item["statusQueries"] = queries
