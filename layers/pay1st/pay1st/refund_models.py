"""The §15 refund (beta) request, its 201 response and the refund webhook event, Decimal money throughout.

In their own module for size; importable from :mod:`pay1st.models` like every other model. Every field is
"to be confirmed with Pay1st" (§15), so responses keep the whole document in ``raw`` and unknown statuses
and handling types are accepted as plain strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from pay1st import _json
from pay1st._fields import (
    _decimal,
    _Response,
    _set,
    _text,
    _url,
)
from pay1st.errors import ValidationError

__all__ = ["CreatedRefund", "HandlingType", "RefundRequest", "RefundStatus", "RefundWebhookEvent"]


class RefundStatus:
    """Refund statuses of §15 as plain ``str`` constants (unknown ones stay ordinary strings)."""

    PENDING: Final = "PENDING"
    PROCESSING: Final = "PROCESSING"
    SUCCESSFUL: Final = "SUCCESSFUL"
    FAILED: Final = "FAILED"
    REJECTED: Final = "REJECTED"

    OPEN_STATUSES: Final[frozenset[str]] = frozenset({PENDING, PROCESSING})
    FINAL_STATUSES: Final[frozenset[str]] = frozenset({SUCCESSFUL, FAILED, REJECTED})
    KNOWN_STATUSES: Final[frozenset[str]] = OPEN_STATUSES | FINAL_STATUSES


class HandlingType:
    """How Pay1st carries a refund out (§15); ``NO_REFUND`` means it cannot: treat it as REJECTED."""

    PSP_API: Final = "PSP_API"
    PSP_MANUAL: Final = "PSP_MANUAL"
    NO_REFUND: Final = "NO_REFUND"


@dataclass(frozen=True)
class RefundRequest:
    """The §15 body. ``amount`` None is a full refund. ``to_json_bytes()`` gives the exact signed bytes."""

    transaction_reference: str
    partner_refund_reference: str
    amount: Decimal | None = None
    reason: str | None = None
    refund_webhook_url: str | None = None

    def __post_init__(self) -> None:
        _text(self.transaction_reference, "transactionReference")
        # Always sent (§15 decision): it is our idempotency key at the gateway.
        _text(self.partner_refund_reference, "partnerRefundReference")
        if self.amount is not None:
            _set(self, "amount", _decimal(self.amount, "amount"))
            if self.amount <= 0:
                raise ValidationError("amount", "must be greater than zero")
        if self.reason is not None:
            _text(self.reason, "reason", required=False)
        _url(self.refund_webhook_url, "refundWebhookUrl")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "transactionReference": self.transaction_reference,
            "partnerRefundReference": self.partner_refund_reference,
        }
        optional = (
            ("amount", self.amount),
            ("reason", self.reason),
            ("refundWebhookUrl", self.refund_webhook_url),
        )
        body.update({name: value for name, value in optional if value is not None})
        return body

    def to_json_bytes(self) -> bytes:
        return _json.dumps(self.to_dict())


@dataclass(frozen=True)
class CreatedRefund(_Response):
    """The §15 201 response; ``refund_reference`` is Pay1st's identifier of the refund."""

    refund_reference: str
    transaction_reference: str
    partner_refund_reference: str
    amount: Decimal
    status: str
    currency_code: str | None
    handling_type: str | None
    full_refund: bool | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RefundWebhookEvent(_Response):
    """A refund status notification (§15 decision on its fields); unknown fields are kept in ``raw``."""

    partner_refund_reference: str
    transaction_reference: str
    status: str
    refund_reference: str | None
    amount: Decimal | None
    currency_code: str | None
    handling_type: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
