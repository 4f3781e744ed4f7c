"""Builders and a controllable clock shared by the payment-domain tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pay1st.errors import InvalidRequestError
from pay1st.models import CreatedPayment, MetadataItem, PaymentDetails, PaymentRequest, Product
from pay1st.signing import format_timestamp, sign

SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"


@dataclass
class Clock:
    """Wall-clock time that only moves when a test says so."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 15, 10, 30, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def payment_request(
    partner_reference: str = "order-1001", amount: str = "250.50", currency: str = "ZAR", country: str = "ZA"
) -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal(amount),
        country_code=country,
        currency_code=currency,
        partner_reference=partner_reference,
        products=(
            Product(
                title="500 Gems", sku="GEM-500", price=Decimal(amount), quantity=1, currency_code=currency
            ),
        ),
        metadata=(MetadataItem(key="playerId", value="p-42"),),
    )


def created_payment(request: PaymentRequest, reference: str = "C-113976984708914-P") -> CreatedPayment:
    return CreatedPayment(
        reference=reference,
        partner_reference=request.partner_reference,
        country_code=request.country_code,
        currency_code=request.currency_code,
        amount=request.amount,
        status="NEW",
    )


class FakeGateway:
    """The §9 status query of a gateway, in memory: what the gateway knows about each payment."""

    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.queries: list[str] = []
        self.error: Exception | None = None

    def set(
        self,
        reference: str,
        status: str,
        *,
        partner_reference: str = "order-1001",
        amount: str = "250.50",
        currency: str = "ZAR",
        country: str = "ZA",
    ) -> None:
        self.payments[reference] = {
            "reference": reference,
            "partnerReference": partner_reference,
            "status": status,
            "amount": Decimal(amount),
            "currencyCode": currency,
            "countryCode": country,
        }

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails:
        self.queries.append(reference)
        if self.error is not None:
            raise self.error
        if reference not in self.payments:
            raise InvalidRequestError(400, "PAYMENT_NOT_FOUND", "unknown reference", "sess-1")
        return PaymentDetails.from_dict(self.payments[reference])


def webhook_body(
    status: str,
    *,
    partner_reference: str = "order-1001",
    reference: str = "C-order-1001-P",
    amount: str = "250.50",
    currency: str = "ZAR",
    **extra: Any,
) -> bytes:
    """A §10 event as the gateway would send it (amount written as a JSON number)."""
    fields = {
        "partnerId": 42,
        "partnerCode": "STUDIO",
        "partnerReference": partner_reference,
        "reference": reference,
        "orderAmount": f"@@{amount}@@",
        "currencyCode": currency,
        "countryCode": "ZA",
        "status": status,
        **extra,
    }
    return json.dumps(fields).replace(f'"@@{amount}@@"', amount).encode()


def signed_headers(body: bytes, *, at: datetime, key: str = SIGNING_KEY) -> dict[str, str]:
    timestamp = format_timestamp(at)
    return {
        "x-signature": sign(key, timestamp, body),
        "x-timestamp": timestamp,
        "content-type": "application/json",
    }
