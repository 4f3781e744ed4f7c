"""What both webhook intakes (payments, refunds) answer, and the limit they both enforce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_WEBHOOK_BYTES = 64 * 1024
UNMATCHED = "unmatched"  # authenticated and recorded, but naming nothing of ours


@dataclass(frozen=True)
class IntakeResult:
    event_id: str
    duplicate: bool
    matched: bool
    outcome: str
    status: str | None = None  # the payment's status after processing (when matched)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"received": True, "matched": self.matched, "outcome": self.outcome}
        if self.duplicate:
            body["duplicate"] = True
        if self.status is not None:
            body["status"] = self.status
        return body
