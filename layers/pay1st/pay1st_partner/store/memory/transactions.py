"""The in-memory store's transaction id write: the same contract as
:mod:`pay1st_partner.store.dynamodb.transactions`."""

from __future__ import annotations

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import record_from_item
from pay1st_partner.store.memory.items import MemoryItems


class MemoryTransactionWrites(MemoryItems):
    def note_transaction_id(self, partner_reference: str, transaction_id: str) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None or item.get("transactionId") == transaction_id:
                return None
            item["transactionId"] = transaction_id
            return record_from_item(item)
