"""Request, response and webhook types of the contract, with Decimal money end to end (never float).

Requests validate in ``__post_init__`` and raise :class:`~pay1st.errors.ValidationError` naming the field
(wire name); responses are parsed from JSON read with ``parse_float=Decimal`` and keep the whole
document in ``raw`` (unknown fields are kept, never dropped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from pay1st import _json
from pay1st.errors import ValidationError
from pay1st.iso import currency_minor_units, is_country_code, is_currency_code

__all__ = [
    "FINAL_STATUSES",
    "KNOWN_STATUSES",
    "CreatedPayment",
    "FulfilmentItem",
    "MetadataItem",
    "PaymentChannel",
    "PaymentDetails",
    "PaymentMethodGroup",
    "PaymentMethods",
    "PaymentRequest",
    "PaymentStatus",
    "Product",
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


# --- field checks -----------------------------------------------------------------------------------


def _decimal(value: object, name: str) -> Decimal:
    """Money as Decimal. Accepts Decimal, int and numeric strings; refuses float (it has already lost cents)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(name, "must be a Decimal (or int / numeric string), never a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(name, "is not a number") from None
    else:
        raise ValidationError(name, "must be a number")
    if not result.is_finite():
        raise ValidationError(name, "must be a finite number")
    return result


def _fits_currency(amount: Decimal, currency: str, name: str) -> None:
    places = currency_minor_units(currency)
    try:
        exact = amount == amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    except InvalidOperation:
        raise ValidationError(name, "is too large") from None
    if not exact:
        raise ValidationError(name, f"has more than {places} decimal places for {currency}")


def _text(value: object, name: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError(name, "must be a string")
    if required and not value.strip():
        raise ValidationError(name, "must not be empty")
    return value


def _country(value: object, name: str = "countryCode") -> str:
    if not is_country_code(value):
        raise ValidationError(name, "must be an ISO-3166 alpha-2 country code (e.g. NG, ZA)")
    return str(value)


def _currency(value: object, name: str = "currencyCode") -> str:
    if not is_currency_code(value):
        raise ValidationError(name, "must be an ISO-4217 currency code (e.g. NGN, ZAR)")
    return str(value)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, "must be an integer")
    if value <= 0:
        raise ValidationError(name, "must be positive")
    return value


def _url(value: object, name: str) -> str | None:
    if value is None:
        return None
    text = _text(value, name)
    if not text.startswith(("https://", "http://")) or any(c.isspace() for c in text):
        raise ValidationError(name, "must be an absolute http(s) URL")
    return text


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(name, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "must be timezone-aware")
    return value


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # normalising a frozen dataclass in __post_init__


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


def _document(raw: bytes | str | Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if isinstance(raw, bytes | str):
        try:
            data = _json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
            raise ValidationError(name, "is not valid JSON") from None
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise ValidationError(name, "must be a JSON object")
    return data


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(name, "items must be JSON objects")
    return value


def _required(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise ValidationError(key, "is required")
    return value


def _required_text(data: Mapping[str, Any], key: str) -> str:
    return _text(_required(data, key), key)


def _optional_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True)
class CreatedPayment:
    """The §7 201 response."""

    reference: str
    partner_reference: str
    country_code: str
    currency_code: str
    amount: Decimal
    status: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CreatedPayment:
        return cls(
            reference=_required_text(data, "reference"),
            partner_reference=_required_text(data, "partnerReference"),
            country_code=_required_text(data, "countryCode"),
            currency_code=_required_text(data, "currencyCode"),
            amount=_decimal(_required(data, "amount"), "amount"),
            status=_required_text(data, "status"),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> CreatedPayment:
        return cls.from_dict(_document(raw, "body"))


@dataclass(frozen=True)
class PaymentDetails:
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentDetails:
        return cls(
            reference=_required_text(data, "reference"),
            partner_reference=_required_text(data, "partnerReference"),
            status=_required_text(data, "status"),
            amount=_decimal(_required(data, "amount"), "amount"),
            currency_code=_required_text(data, "currencyCode"),
            country_code=_required_text(data, "countryCode"),
            channel_id=_optional_text(data.get("channelId")),
            channel_name=_optional_text(data.get("channelName")),
            raw=_frozen(data),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> PaymentDetails:
        return cls.from_dict(_document(raw, "body"))


@dataclass(frozen=True)
class PaymentChannel:
    """A §6 channel entry. ``id`` is what a checkout link's ``channelId`` takes."""

    id: str
    name: str | None
    code: str | None
    status: str | None
    payment_method: str | None
    image_location: str | None
    payment_method_type: str | None
    required_parameters: Any
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_active(self) -> bool:
        option_status = _sub(self.raw, "paymentOption").get("status")
        return self.status == "ACTIVE" and option_status in (None, "ACTIVE")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentChannel:
        channel = _sub(data, "channel")
        option = _sub(data, "paymentOption")
        method_type = _sub(data, "paymentMethodType")
        return cls(
            id=str(_required(data, "id")),
            name=_optional_text(channel.get("name") or option.get("name")),
            code=_optional_text(channel.get("code")),
            status=_optional_text(channel.get("status")),
            payment_method=_optional_text(channel.get("paymentMethod")),
            image_location=_optional_text(channel.get("imageLocation")),
            payment_method_type=_optional_text(method_type.get("code")),
            required_parameters=_embedded_json(method_type.get("requiredParameters")),
            raw=_frozen(data),
        )


def _sub(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _embedded_json(value: object) -> Any:
    # requiredParameters is a JSON document encoded as a string; a malformed one is kept as the string.
    if isinstance(value, str):
        try:
            return _json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


@dataclass(frozen=True)
class PaymentMethodGroup:
    id: str
    name: str | None
    image_location: str | None
    channels: tuple[PaymentChannel, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentMethodGroup:
        entries = data.get("channels") or []
        if not isinstance(entries, list):
            raise ValidationError("channels", "must be a list")
        return cls(
            id=str(_required(data, "id")),
            name=_optional_text(data.get("name")),
            image_location=_optional_text(data.get("imageLocation")),
            channels=tuple(PaymentChannel.from_dict(_mapping(entry, "channels")) for entry in entries),
            raw=_frozen(data),
        )


@dataclass(frozen=True)
class PaymentMethods:
    """The §6 response: groups of channel entries. ``raw`` is the whole document, for passing through."""

    groups: tuple[PaymentMethodGroup, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def channels(self) -> tuple[PaymentChannel, ...]:
        return tuple(channel for group in self.groups for channel in group.channels)

    def channel(self, channel_id: str | int) -> PaymentChannel | None:
        wanted = str(channel_id)
        return next((c for c in self.channels if c.id == wanted), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentMethods:
        inner = data.get("data")
        groups = (inner if isinstance(inner, Mapping) else data).get("groups")
        if not isinstance(groups, list):
            raise ValidationError("data.groups", "must be a list")
        return cls(
            groups=tuple(PaymentMethodGroup.from_dict(_mapping(group, "data.groups")) for group in groups),
            raw=_frozen(data),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> PaymentMethods:
        return cls.from_dict(_document(raw, "body"))


@dataclass(frozen=True)
class WebhookEvent:
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookEvent:
        return cls(
            partner_reference=_required_text(data, "partnerReference"),
            reference=_required_text(data, "reference"),
            status=_required_text(data, "status"),
            order_amount=_decimal(_required(data, "orderAmount"), "orderAmount"),
            currency_code=_required_text(data, "currencyCode"),
            country_code=_required_text(data, "countryCode"),
            partner_id=_optional_text(data.get("partnerId")),
            partner_code=_optional_text(data.get("partnerCode")),
            raw=_frozen(data),
        )

    @classmethod
    def from_json(cls, raw_body: bytes | str) -> WebhookEvent:
        return cls.from_dict(_document(raw_body, "body"))
