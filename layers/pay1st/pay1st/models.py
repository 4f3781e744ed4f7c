"""Request, response and webhook types of the contract, with Decimal money end to end (never float).

Requests validate in ``__post_init__`` and raise :class:`~pay1st.errors.ValidationError` naming the field
(wire name); responses are parsed from JSON read with ``parse_float=Decimal`` and keep the whole
document in ``raw`` (unknown fields are kept, never dropped). A response declares its fields and
:class:`~pay1st._fields._Response` reads them: wire name in camelCase, read by the declared type.

The field checks live in :mod:`pay1st._fields`, the §6 payment-methods models in :mod:`pay1st.payment_methods`
and the §15 refund models in :mod:`pay1st.refund_models` (both re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from pay1st import _json
from pay1st._fields import (
    _READ,
    _aware,
    _country,
    _currency,
    _decimal,
    _fits_currency,
    _positive_int,
    _Response,
    _set,
    _text,
    _url,
)
from pay1st.errors import ValidationError

# Defined in their own module for size; importable from here like every other model.
from pay1st.payment_methods import PaymentChannel, PaymentMethodGroup, PaymentMethods
from pay1st.refund_models import CreatedRefund, HandlingType, RefundRequest, RefundStatus, RefundWebhookEvent

__all__ = [
    "FINAL_STATUSES",
    "KNOWN_STATUSES",
    "CreatedPayment",
    "CreatedRefund",
    "FulfilmentItem",
    "HandlingType",
    "MetadataItem",
    "PaymentChannel",
    "PaymentDetails",
    "PaymentMethodGroup",
    "PaymentMethods",
    "PaymentRequest",
    "PaymentStatus",
    "Product",
    "RefundRequest",
    "RefundStatus",
    "RefundWebhookEvent",
    "WebhookEvent",
    "fulfilment_json_bytes",
]


class PaymentStatus:
    """Payment statuses of §9 as plain ``str`` constants.

    Statuses stay plain strings everywhere (an unknown status seen in a webhook is recorded as is and
    must never crash anything), so this is a namespace of constants rather than an Enum.
    """

    NEW: Final = "NEW"
    PENDING: Final = "PENDING"
    SUCCESSFUL: Final = "SUCCESSFUL"
    FAILED: Final = "FAILED"
    CANCELLED: Final = "CANCELLED"
    ABANDONED: Final = "ABANDONED"

    FINAL_STATUSES: Final[frozenset[str]] = frozenset({SUCCESSFUL, FAILED, CANCELLED, ABANDONED})
    KNOWN_STATUSES: Final[frozenset[str]] = frozenset({NEW, PENDING}) | FINAL_STATUSES

    @staticmethod
    def is_final(status: str) -> bool:
        return status in PaymentStatus.FINAL_STATUSES

    @staticmethod
    def is_known(status: str) -> bool:
        return status in PaymentStatus.KNOWN_STATUSES


FINAL_STATUSES: Final = PaymentStatus.FINAL_STATUSES
KNOWN_STATUSES: Final = PaymentStatus.KNOWN_STATUSES


# --- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    title: str
    sku: str
    price: Decimal
    quantity: int
    currency_code: str

    def __post_init__(self) -> None:
        _text(self.title, "products.title")
        _text(self.sku, "products.sku")
        _set(self, "price", _decimal(self.price, "products.price"))
        if self.price < 0:
            raise ValidationError("products.price", "must not be negative")
        _positive_int(self.quantity, "products.quantity")
        _currency(self.currency_code, "products.currencyCode")
        _fits_currency(self.price, self.currency_code, "products.price")

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sku": self.sku,
            "price": self.price,
            "quantity": self.quantity,
            "currencyCode": self.currency_code,
        }


@dataclass(frozen=True)
class MetadataItem:
    key: str
    value: str

    def __post_init__(self) -> None:
        _text(self.key, "metadata.key")
        _text(self.value, "metadata.value", required=False)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True)
class PaymentRequest:
    """The §7 create-payment body. ``to_json_bytes()`` gives the exact bytes that are signed and sent."""

    amount: Decimal
    country_code: str
    currency_code: str
    partner_reference: str
    products: tuple[Product, ...]
    metadata: tuple[MetadataItem, ...] = ()
    callback_success_url: str | None = None
    callback_failure_url: str | None = None
    callback_pending_url: str | None = None
    callback_cancel_url: str | None = None
    webhook_url: str | None = None

    def __post_init__(self) -> None:
        _set(self, "amount", _decimal(self.amount, "amount"))
        if self.amount <= 0:
            raise ValidationError("amount", "must be greater than zero")
        _country(self.country_code)
        _currency(self.currency_code)
        _fits_currency(self.amount, self.currency_code, "amount")
        _text(self.partner_reference, "partnerReference")

        products = tuple(self.products) if isinstance(self.products, Iterable) else ()
        if not products:
            raise ValidationError("products", "must contain at least one product")
        for product in products:
            if not isinstance(product, Product):
                raise ValidationError("products", "items must be Product")
            if product.currency_code != self.currency_code:
                raise ValidationError("products.currencyCode", "must equal the payment's currencyCode")
        _set(self, "products", products)

        metadata = tuple(self.metadata)
        if not all(isinstance(item, MetadataItem) for item in metadata):
            raise ValidationError("metadata", "items must be MetadataItem")
        _set(self, "metadata", metadata)

        for attr, wire in _CALLBACK_FIELDS:
            _url(getattr(self, attr), wire)

    def to_dict(self) -> dict[str, Any]:
        """The wire document in the documented field order (Decimals stay Decimals)."""
        body: dict[str, Any] = {
            "countryCode": self.country_code,
            "currencyCode": self.currency_code,
            "amount": self.amount,
            "partnerReference": self.partner_reference,
            "products": [product.to_dict() for product in self.products],
            "metadata": [item.to_dict() for item in self.metadata],
        }
        for attr, wire in _CALLBACK_FIELDS:
            value = getattr(self, attr)
            if value is not None:
                body[wire] = value
        return body

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON; amounts written as JSON numbers with their exact digits (250.50)."""
        return _json.dumps(self.to_dict())


_CALLBACK_FIELDS: tuple[tuple[str, str], ...] = (
    ("callback_success_url", "callbackSuccessUrl"),
    ("callback_failure_url", "callbackFailureUrl"),
    ("callback_pending_url", "callbackPendingUrl"),
    ("callback_cancel_url", "callbackCancelUrl"),
    ("webhook_url", "webhookUrl"),
)


@dataclass(frozen=True)
class FulfilmentItem:
    """One product line of the §12 fulfilment completion."""

    sku: str
    quantity: int
    fulfilment_time: datetime
    fulfilment_status: str = "FULFILLED"

    def __post_init__(self) -> None:
        _text(self.sku, "products.sku")
        _positive_int(self.quantity, "products.quantity")
        _aware(self.fulfilment_time, "products.fulfilmentTime")
        _text(self.fulfilment_status, "products.fulfilmentStatus")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "fulfilmentStatus": self.fulfilment_status,
            "quantity": self.quantity,
            # Second precision, UTC, "Z" (the contract's example: 2026-01-15T10:35:00Z).
            "fulfilmentTime": self.fulfilment_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def fulfilment_json_bytes(reference: str, items: Sequence[FulfilmentItem]) -> bytes:
    """The §12 body: ``{"reference": ..., "products": [...]}`` as the exact wire bytes."""
    _text(reference, "reference")
    products = list(items)
    if not products:
        raise ValidationError("products", "must contain at least one fulfilment item")
    if not all(isinstance(item, FulfilmentItem) for item in products):
        raise ValidationError("products", "items must be FulfilmentItem")
    return _json.dumps({"reference": reference, "products": [item.to_dict() for item in products]})


# --- responses --------------------------------------------------------------------------------------

# A Pay1st transaction id (§15): ``C-<digits>-T``, beside a payment's ``C-<digits>-P`` reference.
_TRANSACTION_ID = re.compile(r"C-[0-9]+-T")


def transaction_id(data: Mapping[str, Any]) -> str | None:
    """The transaction id a §7/§9/§10 document carries, if any (§15: where Pay1st sends one is not public,
    so ``transactionReference`` first, then any top-level field holding a ``C-…-T`` value)."""
    named = data.get("transactionReference")
    if isinstance(named, str) and _TRANSACTION_ID.fullmatch(named):
        return named
    for value in data.values():
        if isinstance(value, str) and _TRANSACTION_ID.fullmatch(value):
            return value
    return None


@dataclass(frozen=True)
class CreatedPayment(_Response):
    """The §7 201 response."""

    reference: str
    partner_reference: str
    country_code: str
    currency_code: str
    amount: Decimal
    status: str
    # A ``C-…-T`` id, when the answer carries one (§15): read from the whole document, not one field.
    transaction_id: str | None = field(default=None, metadata={_READ: transaction_id})


@dataclass(frozen=True)
class PaymentDetails(_Response):
    """The §9 query response (``raw`` keeps everything, including ``partnerSettings``)."""

    reference: str
    partner_reference: str
    status: str
    amount: Decimal
    currency_code: str
    country_code: str
    channel_id: str | None
    channel_name: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def transaction_id(self) -> str | None:
        """A ``C-…-T`` transaction id, when the answer carries one (§15)."""
        return transaction_id(self.raw)


@dataclass(frozen=True)
class WebhookEvent(_Response):
    """A §10 payment webhook event. Unknown fields are kept in ``raw``; unknown statuses are accepted."""

    partner_reference: str
    reference: str
    status: str
    order_amount: Decimal
    currency_code: str
    country_code: str
    partner_id: str | None
    partner_code: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def transaction_id(self) -> str | None:
        """A ``C-…-T`` transaction id, when the event carries one (§15)."""
        return transaction_id(self.raw)
