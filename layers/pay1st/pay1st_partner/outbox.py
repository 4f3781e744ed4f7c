"""The outbox entry: one payment event written with the state change that caused it (see ``events``).

Its own module, below both ``records`` (a transition carries its event) and ``events`` (which builds them
from records), so neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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

    @classmethod
    def from_json(cls, partner_reference: str, text: str) -> OutboxEvent:
        data = json.loads(text)
        return cls(
            event_id=data["eventId"],
            partner_reference=partner_reference,
            detail_type=data["detailType"],
            detail=data["detail"],
        )
