"""Plain-dict item writes shared by the in-memory store and its mixins (callers hold the store's lock)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.store.items import OUTBOX_PENDING, sharded


def add_events(
    item: dict[str, Any], events: tuple[OutboxEvent, ...], at: str, *, marked: bool = True
) -> None:
    """Put ``events`` in the payment's outbox and mark it pending (as the DynamoDB store's outbox_sets)."""
    for event in events:
        item.setdefault("outbox", {})[event.event_id] = event.to_stored_json(item)
        if not marked:
            continue
        item["outboxMarker"] = sharded(OUTBOX_PENDING, item["partnerReference"])
        item.setdefault("outboxSince", at)


def claim_pointer(items: dict[str, dict[str, Any]], key: str, field: str, owner: str) -> str:
    """The pointer item ``key`` names its owner in ``field``: the first claim wins; returns the owner."""
    pointer = items.setdefault(key, {"partnerReference": key, field: owner})
    return str(pointer[field])


def pointer_owner(items: dict[str, dict[str, Any]], key: str, field: str) -> str | None:
    pointer = items.get(key)
    return None if pointer is None or field not in pointer else str(pointer[field])


def own_claim(stored: Mapping[str, Any] | None, claim: Mapping[str, Any]) -> bool:
    """``stored`` is ``claim``, applied before (the same ``claimId``): a retried write succeeds."""
    return stored is not None and bool(claim.get("claimId")) and stored.get("claimId") == claim.get("claimId")


class MemoryItems:
    """What every part of the in-memory store works on: the items by partnerReference, under one lock."""

    _items: dict[str, dict[str, Any]]
    _lock: threading.Lock
