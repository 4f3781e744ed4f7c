"""The outbox entry: one payment event written with the state change that caused it (see ``events``).

Its own module, below both ``records`` (a transition carries its event) and ``events`` (which builds them
from records), so neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Detail fields a payment event copies from the payment item unchanged (a refund event's own ``amount`` differs
# from the payment's and so is kept: only equal values are left out).
_FROM_ITEM = ("amount", "currencyCode", "countryCode")


@dataclass(frozen=True)
class OutboxEvent:
    """One payment event waiting on the item's outbox until EventBridge has it.

    ``event_id`` is ``"{partnerReference}:{status}"``: stable across re-publication, so consumers dedupe on it.
    """

    event_id: str
    partner_reference: str
    detail_type: str
    detail: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {"eventId": self.event_id, "detailType": self.detail_type, "detail": dict(self.detail)},
            sort_keys=True,
            separators=(",", ":"),
        )

    def to_stored_json(self, payment: Mapping[str, Any] | None = None) -> str:
        """The event as the payment item's outbox keeps it, in short keys and without the detail's fields the
        item holds with the same value (``partnerReference``; and ``amount``, ``currencyCode``, ``countryCode``
        when equal to ``payment``'s, the item's own values, which never change), so a payment with its event stays
        under 1 KB (one write unit per write, not two). :meth:`from_stored` puts them back from the item."""
        from_item = payment is not None and all(
            self.detail.get(key) == payment.get(key) for key in _FROM_ITEM
        )
        left_out = {"partnerReference", *(_FROM_ITEM if from_item else ())}
        detail = {key: value for key, value in self.detail.items() if key not in left_out}
        stored = {"t": self.detail_type, "d": detail, **({"i": 1} if from_item else {})}
        return json.dumps(stored, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_stored(cls, item: Mapping[str, Any], text: str) -> OutboxEvent:
        """An outbox entry of ``item`` (the plain-valued payment item), in either layout (:meth:`to_json` was the
        stored one before :meth:`to_stored_json`)."""
        partner_reference = str(item["partnerReference"])
        data = json.loads(text)
        if "t" not in data:
            return cls.from_json(partner_reference, text)
        detail = dict(data["d"])
        if data.get("i"):
            detail.update({key: item[key] for key in _FROM_ITEM})
        detail["partnerReference"] = partner_reference
        return cls(
            event_id=detail["eventId"],
            partner_reference=partner_reference,
            detail_type=data["t"],
            detail=detail,
        )

    @classmethod
    def from_json(cls, partner_reference: str, text: str) -> OutboxEvent:
        data = json.loads(text)
        return cls(
            event_id=data["eventId"],
            partner_reference=partner_reference,
            detail_type=data["detailType"],
            detail=data["detail"],
        )
