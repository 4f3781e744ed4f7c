"""The in-memory store's attempt writes: the same contract as :mod:`pay1st_partner.dynamodb_attempts`."""

from __future__ import annotations

import copy
import threading
from typing import Any

from pay1st_partner import state
from pay1st_partner.payment_items import (
    OUTBOX_PENDING,
    attempt_pointer_key,
    history_entry,
    record_from_item,
    sharded,
)
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store import AttemptChange


class MemoryAttemptWrites:
    _items: dict[str, dict[str, Any]]
    _lock: threading.Lock

    def claim_attempt_reference(self, attempt_reference: str, partner_reference: str) -> str:
        key = attempt_pointer_key(attempt_reference)
        with self._lock:
            pointer = self._items.setdefault(key, {"partnerReference": key, "attemptOf": partner_reference})
            return str(pointer["attemptOf"])

    def attempt_owner(self, attempt_reference: str) -> str | None:
        with self._lock:
            pointer = self._items.get(attempt_pointer_key(attempt_reference))
            return None if pointer is None or "attemptOf" not in pointer else str(pointer["attemptOf"])

    def write_attempts(self, change: AttemptChange) -> PaymentRecord | None:
        record, now = change.record, change.at
        with self._lock:
            item = self._items.get(record.partner_reference)
            if (
                item is None
                or item["status"] != record.status
                or item.get("attemptReference") != record.attempt_reference
                or item.get("reference") != record.reference
            ):
                return None
            item["attempts"] = [dict(entry) for entry in change.attempts]
            item["attemptReference"] = change.attempt_reference
            item["updatedAt"] = now
            if change.reference is not None:
                item["reference"] = change.reference
            if change.status is not None:
                item["status"] = change.status
                item.setdefault("statusHistory", []).append(history_entry(change.status, now, change.source))
                if state.is_final(change.status):
                    item.pop("openMarker", None)
                    item.pop("nextCheckAt", None)
            if change.double_paid:
                item["doublePaid"] = True
            if change.event is not None:
                item.setdefault("outbox", {})[change.event.event_id] = change.event.to_json()
                item["outboxMarker"] = sharded(OUTBOX_PENDING, record.partner_reference)
                item.setdefault("outboxSince", now)
            return record_from_item(copy.deepcopy(item))
