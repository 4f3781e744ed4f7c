"""The in-memory store's refund and reversal writes (§15, §16): the same contract as
:mod:`pay1st_partner.store.dynamodb.refunds`, mixed into the store."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pay1st_partner import refund_state, state
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import (
    MAX_REFUNDS_PER_PAYMENT,
    OPEN_MARKER,
    clone,
    history_entry,
    marker_partitions,
    record_from_item,
    refund_pointer_key,
    sharded,
)
from pay1st_partner.store.memory.items import (
    MemoryItems,
    add_events,
    claim_pointer,
    own_claim,
    pointer_owner,
)
from pay1st_partner.store.port import RefundChange, ReversalChange

_ZERO = Decimal(0)


class MemoryRefundWrites(MemoryItems):
    def claim_refund_reference(self, refund_reference: str, partner_reference: str) -> str:
        with self._lock:
            return claim_pointer(
                self._items, refund_pointer_key(refund_reference), "refundOf", partner_reference
            )

    def release_refund_reference(self, refund_reference: str, partner_reference: str) -> None:
        key = refund_pointer_key(refund_reference)
        with self._lock:
            if self._items.get(key, {}).get("refundOf") == partner_reference:
                del self._items[key]

    def refund_owner(self, refund_reference: str) -> str | None:
        with self._lock:
            return pointer_owner(self._items, refund_pointer_key(refund_reference), "refundOf")

    def add_refund(
        self, partner_reference: str, entry: Mapping[str, Any], *, reserve_up_to: Decimal, at: str
    ) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return None
            _ensure_refund_totals(item)
            refunds = item["refunds"]
            if own_claim(refunds.get(entry["refundReference"]), entry):
                return _copy(item)
            if (
                item["status"] != state.SUCCESSFUL
                or item["reversals"]
                or entry["refundReference"] in refunds
                or len(refunds) >= MAX_REFUNDS_PER_PAYMENT
                or item["refundReserved"] > reserve_up_to
            ):
                return None
            refunds[entry["refundReference"]] = clone(dict(entry))
            item["refundReserved"] += Decimal(entry["amount"])
            item["refundsOpen"] += 1
            item["refundOpenMarker"] = sharded(OPEN_MARKER, partner_reference)
            item.setdefault("refundOpenSince", at)
            return _copy(item)

    def remove_refund(self, partner_reference: str, refund_reference: str, amount: Decimal, at: str) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            refund = (item or {}).get("refunds", {}).get(refund_reference)
            if item is None or refund is None or refund["status"] != refund_state.CREATING:
                return False
            del item["refunds"][refund_reference]
            item["refundReserved"] -= amount
            _close_refund(item)
            return True

    def write_refund_transition(self, change: RefundChange) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(change.partner_reference)
            refund = (item or {}).get("refunds", {}).get(change.refund_reference)
            if item is None or refund is None or refund["status"] != change.current:
                return None
            refund["status"] = change.status
            refund["updatedAt"] = change.at
            refund["history"].append(history_entry(change.status, change.at, change.source))
            if change.pay1st_refund_reference is not None:
                refund["pay1stRefundReference"] = change.pay1st_refund_reference
            if change.handling_type is not None:
                refund["handlingType"] = change.handling_type
            if change.status in refund_state.RELEASED_STATUSES:
                item["refundReserved"] -= change.amount
            if change.status == refund_state.SUCCESSFUL:
                item["refundedAmount"] += change.amount
            if refund_state.is_final(change.status):
                _close_refund(item)
            add_events(item, change.events, change.at)
            return _copy(item)

    def open_refund_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        partitions = frozenset(marker_partitions(OPEN_MARKER))  # once, not once per item
        with self._lock:
            due = [
                item
                for item in self._items.values()
                if item.get("refundOpenMarker") in partitions and item["refundOpenSince"] < older_than
            ]
            due.sort(key=lambda item: item["refundOpenSince"])
            return [_copy(item) for item in due[:limit]]

    def record_reversal(self, change: ReversalChange) -> PaymentRecord | None:
        with self._lock:
            item = self._items.get(change.partner_reference)
            if item is None:
                return None
            _ensure_refund_totals(item)
            if item["status"] != state.SUCCESSFUL or change.kind in item["reversals"]:
                return None
            item["reversals"][change.kind] = {"at": change.at, "source": change.source}
            add_events(item, () if change.event is None else (change.event,), change.at)
            return _copy(item)


def _copy(item: Mapping[str, Any]) -> PaymentRecord:
    return record_from_item(item)


def _ensure_refund_totals(item: dict[str, Any]) -> None:
    """What the DynamoDB store writes before a payment's first refund or reversal (the same layout)."""
    for name in ("refunds", "reversals"):
        item.setdefault(name, {})
    for name in ("refundReserved", "refundedAmount", "refundsOpen"):
        item.setdefault(name, _ZERO)


def _close_refund(item: dict[str, Any]) -> None:
    item["refundsOpen"] -= 1
    if item["refundsOpen"] <= 0:
        item.pop("refundOpenMarker", None)
        item.pop("refundOpenSince", None)
