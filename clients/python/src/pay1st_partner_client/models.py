"""Typed results (and inputs) of the partner API: frozen dataclasses built from the JSON it answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _texts(document: dict[str, Any], *attributes: str) -> dict[str, Any]:
    """The optional text fields ``attributes``, each read under its camelCase name (``created_at``:
    ``createdAt``), None where absent."""
    return {name: _text(document.get(_camel(name))) for name in attributes}


def _camel(attribute: str) -> str:
    first, *rest = attribute.split("_")
    return first + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True)
class Product:
    """A product of a payment (create)."""

    title: str
    sku: str
    price: Decimal | str
    quantity: int
    currency_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "title": self.title,
            "sku": self.sku,
            "price": str(self.price),
            "quantity": self.quantity,
        }
        if self.currency_code:
            document["currencyCode"] = self.currency_code
        return document


@dataclass(frozen=True)
class FulfilledProduct:
    """A product of a fulfilment report; status and time default on the server (FULFILLED, now)."""

    sku: str
    quantity: int
    fulfilment_status: str | None = None
    fulfilment_time: str | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"sku": self.sku, "quantity": self.quantity}
        if self.fulfilment_status:
            document["fulfilmentStatus"] = self.fulfilment_status
        if self.fulfilment_time:
            document["fulfilmentTime"] = self.fulfilment_time
        return document


@dataclass(frozen=True)
class Fulfilment:
    status: str
    recorded_at: str | None = None
    delivered_at: str | None = None


@dataclass(frozen=True)
class Refund:
    """A refund as the API shows it (``POST …/refunds`` answers it; ``Payment.refunds`` lists them)."""

    refund_reference: str
    partner_reference: str
    amount: Decimal
    currency_code: str
    status: str  # CREATING, CREATE_UNKNOWN (ours), then PENDING, PROCESSING, SUCCESSFUL, FAILED, REJECTED
    pay1st_refund_reference: str | None = None
    handling_type: str | None = None  # PSP_API, PSP_MANUAL (slow), NO_REFUND (ends REJECTED)
    reason: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    replayed: bool = False  # answered from an earlier identical request (Idempotent-Replayed)

    @classmethod
    def from_json(cls, document: dict[str, Any], *, replayed: bool = False) -> Refund:
        return cls(
            refund_reference=str(document["refundReference"]),
            partner_reference=str(document["partnerReference"]),
            amount=Decimal(str(document["amount"])),
            currency_code=str(document["currencyCode"]),
            status=str(document["status"]),
            **_texts(
                document, "pay1st_refund_reference", "handling_type", "reason", "created_at", "updated_at"
            ),
            replayed=replayed,
        )


@dataclass(frozen=True)
class Reversal:
    """A CHARGEBACK or REFUND Pay1st confirmed: the payment stays SUCCESSFUL but is never refundable again."""

    status: str
    recorded_at: str | None = None

    @classmethod
    def from_json(cls, document: Any) -> Reversal | None:
        if not isinstance(document, dict):
            return None
        return cls(str(document.get("status")), _text(document.get("recordedAt")))


@dataclass(frozen=True)
class Attempt:
    """One attempt of a payment at Pay1st (README "Attempts"): a payment whose create answer was lost may
    have been created again under a derived reference; only the ``current`` one's link is ever handed out."""

    attempt_reference: str  # the partnerReference Pay1st knows this attempt by
    current: bool
    paid: bool
    reference: str | None = None  # Pay1st's reference of the attempt, once known
    superseded_at: str | None = None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Attempt:
        return cls(
            attempt_reference=str(document["attemptReference"]),
            current=bool(document.get("current")),
            paid=bool(document.get("paid")),
            **_texts(document, "reference", "superseded_at"),
        )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class Payment:
    """A payment as the API shows it; ``checkout_url`` only on create (a secret: never log it)."""

    partner_reference: str
    status: str
    amount: Decimal
    currency_code: str
    country_code: str
    reference: str | None = None
    channel_id: str | None = None
    checkout_url: str | None = field(default=None, repr=False)
    created_at: str | None = None
    updated_at: str | None = None
    last_checked_at: str | None = None
    # While open: the in-progress step Pay1st reported last (SEND_OTP, PAY_OFFLINE, ...), and when.
    step: str | None = None
    step_at: str | None = None
    fulfilment: Fulfilment | None = None
    replayed: bool = False  # create answered from an earlier identical request (Idempotent-Replayed)
    # Once SUCCESSFUL: its refunds, the totals (None before), and any reversal Pay1st confirmed.
    refunds: tuple[Refund, ...] = ()
    refunded_amount: Decimal | None = None  # refunds SUCCESSFUL
    refundable_amount: Decimal | None = None  # the amount minus refunds SUCCESSFUL or still open
    chargeback: Reversal | None = None
    full_refund: Reversal | None = None
    # More than one attempt at Pay1st (oldest first, the current one last); double_paid: two were paid.
    attempts: tuple[Attempt, ...] = ()
    double_paid: bool = False
    attempts_exhausted_at: str | None = None  # the payment ended: no attempt has a checkout link

    @classmethod
    def from_json(cls, document: dict[str, Any], *, replayed: bool = False) -> Payment:
        fulfilment = document.get("fulfilment")
        return cls(
            partner_reference=str(document["partnerReference"]),
            status=str(document["status"]),
            amount=Decimal(str(document["amount"])),
            currency_code=str(document["currencyCode"]),
            country_code=str(document["countryCode"]),
            **_texts(
                document,
                "reference",
                "channel_id",
                "checkout_url",
                "created_at",
                "updated_at",
                "last_checked_at",
                "step",
                "step_at",
            ),
            fulfilment=Fulfilment(
                status=str(fulfilment.get("status")),
                recorded_at=_text(fulfilment.get("recordedAt")),
                delivered_at=_text(fulfilment.get("deliveredAt")),
            )
            if isinstance(fulfilment, dict)
            else None,
            replayed=replayed,
            refunds=tuple(Refund.from_json(r) for r in document.get("refunds") or () if isinstance(r, dict)),
            refunded_amount=_decimal(document.get("refundedAmount")),
            refundable_amount=_decimal(document.get("refundableAmount")),
            chargeback=Reversal.from_json(document.get("chargeback")),
            full_refund=Reversal.from_json(document.get("fullRefund")),
            attempts=tuple(
                Attempt.from_json(a) for a in document.get("attempts") or () if isinstance(a, dict)
            ),
            double_paid=bool(document.get("doublePaid")),
            attempts_exhausted_at=_text(document.get("attemptsExhaustedAt")),
        )


@dataclass(frozen=True)
class Channel:
    id: str  # the checkout's channelId
    name: str
    code: str | None
    payment_method_type: str | None
    status: str | None
    active: bool


@dataclass(frozen=True)
class PaymentMethods:
    country_code: str
    channels: tuple[Channel, ...]
    groups: tuple[dict[str, Any], ...]  # the gateway's §6 groups, as it sends them
    cached: bool | None = None  # X-Cache: hit → True, miss → False

    @classmethod
    def from_json(cls, document: dict[str, Any], *, cache: str | None = None) -> PaymentMethods:
        return cls(
            country_code=str(document["countryCode"]),
            channels=tuple(
                Channel(
                    id=str(c["id"]),
                    name=str(c.get("name", "")),
                    code=_text(c.get("code")),
                    payment_method_type=_text(c.get("paymentMethodType")),
                    status=_text(c.get("status")),
                    active=bool(c.get("active")),
                )
                for c in document.get("channels", [])
            ),
            groups=tuple(document.get("groups", [])),
            cached=None if cache is None else cache.lower() == "hit",
        )


@dataclass(frozen=True)
class FulfilmentReceipt:
    partner_reference: str
    fulfilment_status: str  # QUEUED, or DELIVERED for a repeat after delivery

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> FulfilmentReceipt:
        return cls(str(document["partnerReference"]), str(document["fulfilmentStatus"]))


def as_json(value: Any) -> Any:
    """Inputs given as dataclasses or plain dicts, as JSON."""
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return value
    return asdict(value)
