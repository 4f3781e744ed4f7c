"""The payments store in memory: the same contract as DynamoDB, for fast tests of the domain's rules.

Items are plain dicts in the DynamoDB layout (:mod:`pay1st_partner.store.items`), so the two stores map
records identically; one lock makes each write atomic, as a DynamoDB conditional write is. Every read
returns a copy, so nothing outside can change a stored item. Not used in Lambda.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeGuard

from pay1st_partner import refund_state, state
from pay1st_partner.errors import PaymentNotFound
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.items import (
    GAVE_UP_MARKER,
    MAX_REFUNDS_PER_PAYMENT,
    OPEN_MARKER,
    OUTBOX_PENDING,
    OWED_MARKER,
    history_entry,
    marker_partitions,
    record_from_item,
    refund_pointer_key,
    sharded,
)
from pay1st_partner.store.memory.attempts import MemoryAttemptWrites
from pay1st_partner.store.memory.items import add_events, claim_pointer, pointer_owner
from pay1st_partner.store.memory.owed import MemoryOwedWrites, final_schedule, has_owed
from pay1st_partner.store.memory.steps import MemoryStepWrites
from pay1st_partner.store.memory.transactions import MemoryTransactionWrites
from pay1st_partner.store.port import QueryWanted, RefundChange, ReversalChange, StatusChange, StatusQueryNote

_ZERO = Decimal(0)


class InMemoryPaymentStore(MemoryAttemptWrites, MemoryOwedWrites, MemoryStepWrites, MemoryTransactionWrites):
    def __init__(self) -> None:
        self._items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        # The webhook receipts written with transitions (DynamoDB: on the webhook events table), by event id.
        self.receipts: dict[str, dict[str, Any]] = {}

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

    def _sparse_index(
        self, marker: str, values: list[str], sort_key: str, below: str
    ) -> list[dict[str, Any]]:
        """What sparse GSI partitions (``marker`` in ``values``, merged by ``sort_key``) hold below ``below``;
        as in DynamoDB, an item without the sort key is in no index."""
        found = [
            item
            for item in self._items.values()
            if item.get(marker) in values and sort_key in item and item[sort_key] < below
        ]
        return sorted(found, key=lambda item: item[sort_key])

    def open_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        with self._lock:
            due = self._sparse_index("openMarker", marker_partitions(OPEN_MARKER), "updatedAt", older_than)
            return [self._record(item) for item in due[:limit]]

    def due_payments(self, *, due_before: str, limit: int) -> list[PaymentRecord]:
        with self._lock:
            shards = marker_partitions(OPEN_MARKER, legacy=False) + marker_partitions(
                OWED_MARKER, legacy=False
            )
            found = [
                (i["nextCheckAt"], i)
                for i in self._sparse_index("openMarker", shards, "nextCheckAt", due_before)
            ]
            legacy = self._sparse_index("openMarker", [OPEN_MARKER], "updatedAt", due_before)
            found += [(item["updatedAt"], item) for item in legacy]  # legacy: due by updatedAt
            found.sort(key=lambda pair: pair[0])
            return [self._record(item) for _, item in found[:limit]]

    def gave_up_payments(self, *, limit: int) -> list[PaymentRecord]:
        with self._lock:
            shards = marker_partitions(GAVE_UP_MARKER, legacy=False)
            return [
                self._record(item)
                for item in self._sparse_index("openMarker", shards, "nextCheckAt", "~")[:limit]
            ]

    def pending_events(self, *, older_than: str, limit: int) -> list[OutboxEvent]:
        with self._lock:
            pending = marker_partitions(OUTBOX_PENDING)
            waiting = self._sparse_index("outboxMarker", pending, "outboxSince", older_than)
            return [
                OutboxEvent.from_json(item["partnerReference"], text)
                for item in waiting[:limit]
                for text in item.get("outbox", {}).values()
            ]

    # ---------------------------------------------------------------- writes

    def put_claim(self, item: Mapping[str, Any]) -> bool:
        with self._lock:
            existing = self._items.get(item["partnerReference"])
            if existing is not None:  # taken: by this very claim (a retried write), or by another request
                return bool(item.get("claimId")) and existing.get("claimId") == item.get("claimId")
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
            if item is None or item["status"] != record.status or (has_owed(item) and not record.owed):
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
                final_schedule(item, record)
            elif item.get("reference") is not None:
                item["openMarker"] = sharded(OPEN_MARKER, record.partner_reference)
                next_check = change.next_check_at or change.at
                item["nextCheckAt"] = item.get("nextCheckAt", next_check) if record.owed else next_check
            if change.query is not None:
                _add_query(item, change.query)
            if change.event is not None:
                add_events(item, (change.event,), change.at)
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
            if item is not None and _own(item.get("fulfilment"), fulfilment):
                return self._record(item)
            if (
                item is None
                or item["status"] != state.SUCCESSFUL
                or "fulfilment" in item
                or item.get("reversals")
                or item.get("refundReserved", _ZERO) >= amount
            ):
                return None
            item["fulfilment"] = copy.deepcopy(dict(fulfilment))
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
                item["fulfilment"].setdefault("attempts", []).append(copy.deepcopy(dict(attempt)))
            return True

    # ------------------------------------------------------------ refunds and reversals (§15, §16)

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
            if _own(refunds.get(entry["refundReference"]), entry):
                return self._record(item)
            if (
                item["status"] != state.SUCCESSFUL
                or item["reversals"]
                or entry["refundReference"] in refunds
                or len(refunds) >= MAX_REFUNDS_PER_PAYMENT
                or item["refundReserved"] > reserve_up_to
            ):
                return None
            refunds[entry["refundReference"]] = copy.deepcopy(dict(entry))
            item["refundReserved"] += Decimal(entry["amount"])
            item["refundsOpen"] += 1
            item["refundOpenMarker"] = sharded(OPEN_MARKER, partner_reference)
            item.setdefault("refundOpenSince", at)
            return self._record(item)

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
            return self._record(item)

    def open_refund_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        with self._lock:
            due = [
                item
                for item in self._items.values()
                if item.get("refundOpenMarker") in marker_partitions(OPEN_MARKER)
                and item["refundOpenSince"] < older_than
            ]
            due.sort(key=lambda item: item["refundOpenSince"])
            return [self._record(item) for item in due[:limit]]

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
            return self._record(item)

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
                copy.deepcopy(item)
                for item in self._items.values()
                if item.get("status") == status and created_after < item["createdAt"] < created_before
            ]
        return sorted(found, key=lambda item: item["createdAt"], reverse=newest_first)[:limit]

    def add_audit(self, partner_reference: str, entry: Mapping[str, Any], *, keep: int) -> bool:
        with self._lock:
            item = self._items.get(partner_reference)
            if item is None:
                return False
            item["audit"] = [*item.get("audit", []), copy.deepcopy(dict(entry))][-keep:]
            item["auditCount"] = item.get("auditCount", 0) + 1
            return True


def _own(stored: Mapping[str, Any] | None, claim: Mapping[str, Any]) -> bool:
    """``stored`` is ``claim``, applied before (the same ``claimId``): a retried write succeeds."""
    return stored is not None and bool(claim.get("claimId")) and stored.get("claimId") == claim.get("claimId")


def _is_scheduled(item: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """Open and on the check schedule: not settled, not given up (``GAVEUP#n``)."""
    return item is not None and str(item.get("openMarker", "")).startswith(OPEN_MARKER)


def _add_query(item: dict[str, Any], note: StatusQueryNote) -> None:
    queries = {} if note.create else item.setdefault("statusQueries", {})
    queries[note.key] = copy.deepcopy(dict(note.entry))
    for key in note.drop:
        queries.pop(key, None)
    item["statusQueries"] = queries


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
