"""The in-memory store's owed confirmations: the same contract as :mod:`pay1st_partner.store.dynamodb.owed`."""

from __future__ import annotations

from typing import Any

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import OPEN_MARKER, OWED_MARKER, clone, record_from_item, sharded
from pay1st_partner.store.memory.items import MemoryItems
from pay1st_partner.store.port import OwedChange


def has_owed(item: dict[str, Any]) -> bool:
    return bool(item.get("owed"))


def final_schedule(item: dict[str, Any], record: PaymentRecord) -> None:
    """A write making ``record`` final (its caller checked ``record`` was read with what is owed now): off
    the schedule unless something is owed, then due under ``OWED#<n>``."""
    if record.owed:
        item["openMarker"] = sharded(OWED_MARKER, record.partner_reference)
        item.setdefault("nextCheckAt", item["updatedAt"])
        return
    item.pop("openMarker", None)
    item.pop("nextCheckAt", None)


class MemoryOwedWrites(MemoryItems):
    def owe_confirmation(self, change: OwedChange) -> PaymentRecord | None:
        record = change.record
        with self._lock:
            item = self._items.get(record.partner_reference)
            if (
                item is None
                or item["status"] != record.status
                or item.get("reference") != record.reference
                or has_owed(item) != bool(record.owed)
            ):
                return None
            item.setdefault("owed", {})[change.reference] = clone(dict(change.entry))
            item["nextCheckAt"] = change.due_at
            item["openMarker"] = sharded(change.marker, record.partner_reference)
            return record_from_item(item)

    def settle_owed(self, partner_reference: str, reference: str, since: str) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            entry = (item or {}).get("owed", {}).get(reference)
            if item is None or entry is None or entry.get("since") != since:
                return None
            del item["owed"][reference]
            return record_from_item(item)

    def end_owed_schedule(self, partner_reference: str, *, next_check_at: str | None) -> None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None or has_owed(item):
                return
            marker = str(item.get("openMarker", ""))
            if next_check_at is None and marker.startswith(OWED_MARKER + "#"):
                item.pop("openMarker", None)
                item.pop("nextCheckAt", None)
            elif next_check_at is not None and marker.startswith((OPEN_MARKER, OWED_MARKER + "#")):
                item["nextCheckAt"] = next_check_at
                item["openMarker"] = sharded(OPEN_MARKER, partner_reference)
