"""The payments store in memory: the same contract as DynamoDB, for fast tests of the domain's rules.

Items are plain dicts in the DynamoDB layout (:mod:`pay1st_partner.payment_items`), so the two stores map
records identically; one lock makes each write atomic, as a DynamoDB conditional write is. Every read
returns a copy, so nothing outside can change a stored item. Not used in Lambda.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from pay1st_partner import state
from pay1st_partner.errors import PaymentNotFound
from pay1st_partner.events import OutboxEvent
from pay1st_partner.payment_items import OPEN_MARKER, OUTBOX_PENDING, history_entry, record_from_item
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store import StatusChange


class InMemoryPaymentStore:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def item(self, partner_reference: str) -> dict[str, Any] | None:
        """A copy of the raw stored item (what a test would read from the table)."""
        with self._lock:
            found = self._items.get(partner_reference)
            return copy.deepcopy(found) if found is not None else None

    def _record(self, item: Mapping[str, Any]) -> PaymentRecord:
        return record_from_item(copy.deepcopy(item))

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

    def _sparse_index(self, marker: str, value: str, sort_key: str, below: str) -> list[dict[str, Any]]:
        """What a sparse GSI (``marker`` = ``value``, sorted by ``sort_key``) holds below ``below``."""
        found = [
            item for item in self._items.values() if item.get(marker) == value and item[sort_key] < below
        ]
        return sorted(found, key=lambda item: item[sort_key])

    def open_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        with self._lock:
            due = self._sparse_index("openMarker", OPEN_MARKER, "updatedAt", older_than)
            return [self._record(item) for item in due[:limit]]

    def pending_events(self, *, older_than: str, limit: int) -> list[OutboxEvent]:
        with self._lock:
            waiting = self._sparse_index("outboxMarker", OUTBOX_PENDING, "outboxSince", older_than)
            return [
                OutboxEvent.from_json(item["partnerReference"], text)
                for item in waiting[:limit]
                for text in item.get("outbox", {}).values()
            ]

    # ---------------------------------------------------------------- writes

    def put_claim(self, item: Mapping[str, Any]) -> bool:
        with self._lock:
            if item["partnerReference"] in self._items:
                return False
            self._items[item["partnerReference"]] = copy.deepcopy(dict(item))
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
            if item is None or item["status"] != record.status:
                return None
            adopting = record.reference is None and change.adopt_reference is not None
            if adopting and item.get("reference") is not None:
                return None
            item["status"] = change.status
            item["updatedAt"] = change.at
            item.setdefault("statusHistory", []).append(
                history_entry(change.status, change.at, change.source)
            )
            if adopting:
                item["reference"] = change.adopt_reference
            if state.is_final(change.status):
                item.pop("openMarker", None)
            elif item.get("reference") is not None:
                item["openMarker"] = OPEN_MARKER
            if change.event is not None:
                item.setdefault("outbox", {})[change.event.event_id] = change.event.to_json()
                item["outboxMarker"] = OUTBOX_PENDING
                item.setdefault("outboxSince", change.at)
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

    def touch_checked(self, partner_reference: str, at: str) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return None
            item["lastCheckedAt"] = item["updatedAt"] = at
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

    def put_fulfilment(self, partner_reference: str, fulfilment: Mapping[str, Any]) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None or item["status"] != state.SUCCESSFUL or "fulfilment" in item:
                return None
            item["fulfilment"] = copy.deepcopy(dict(fulfilment))
            return self._record(item)

    def mark_fulfilment_delivered(self, partner_reference: str, at: str) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None or "fulfilment" not in item:
                return False
            item["fulfilment"].setdefault("deliveredAt", at)
            return True
