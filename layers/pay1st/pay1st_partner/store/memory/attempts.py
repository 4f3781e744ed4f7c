"""The in-memory store's attempt writes: the same contract as :mod:`pay1st_partner.store.dynamodb.attempts`."""

from __future__ import annotations

from pay1st_partner import state
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import attempt_pointer_key, history_entry, record_from_item
from pay1st_partner.store.memory.items import MemoryItems, add_events, claim_pointer, pointer_owner
from pay1st_partner.store.memory.owed import final_schedule, has_owed
from pay1st_partner.store.port import AttemptChange


class MemoryAttemptWrites(MemoryItems):
    def claim_attempt_reference(self, attempt_reference: str, partner_reference: str) -> str:
        with self._lock:
            return claim_pointer(
                self._items, attempt_pointer_key(attempt_reference), "attemptOf", partner_reference
            )

    def attempt_owner(self, attempt_reference: str) -> str | None:
        with self._lock:
            return pointer_owner(self._items, attempt_pointer_key(attempt_reference), "attemptOf")

    def write_attempts(self, change: AttemptChange) -> PaymentRecord | None:
        record, now = change.record, change.at
        with self._lock:
            item = self._items.get(record.partner_reference)
            if (
                item is not None
                and change.claim_id is not None
                and item.get("attemptReference") == change.attempt_reference
                and any(e.get("claimId") == change.claim_id for e in item.get("attempts", ()))
            ):
                return record_from_item(item)  # this very write, applied before
            if (
                item is None
                or item["status"] != record.status
                or item.get("attemptReference") != record.attempt_reference
                or item.get("reference") != record.reference
                or [bool(e.get("paidAt")) for e in item.get("attempts", ())]
                != [
                    bool(e.get("paidAt")) for e in record.attempts
                ]  # the list as read (DynamoDB: its conditions)
                or (change.status in state.FINAL_STATUSES and has_owed(item) and not record.owed)
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
                    final_schedule(item, record)
            if change.double_paid:
                item["doublePaid"] = True
            if change.exhausted:
                item["attemptsExhaustedAt"] = now
            add_events(item, () if change.event is None else (change.event,), now)
            return record_from_item(item)
