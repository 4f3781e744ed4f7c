"""The in-memory store's step writes: the same contract as :mod:`pay1st_partner.store.dynamodb.steps`."""

from __future__ import annotations

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import record_from_item
from pay1st_partner.store.memory.items import MemoryItems, add_events
from pay1st_partner.store.port import StepChange


class MemoryStepWrites(MemoryItems):
    def write_step(self, change: StepChange) -> PaymentRecord | None:
        record = change.record
        with self._lock:
            item = self._items.get(record.partner_reference)
            if item is None or item["status"] != record.status:
                return None
            if change.event is not None and item.get("stepToldAt") != change.told_at:
                return None
            item["step"] = {
                "status": change.step,
                "at": change.at,
                "during": record.status,
                "source": change.source,
            }
            if change.event is not None:
                item.setdefault("stepsTold", {})[change.step] = change.at
                item["stepToldAt"] = change.at
                add_events(item, (change.event,), change.at)
            return record_from_item(item)
