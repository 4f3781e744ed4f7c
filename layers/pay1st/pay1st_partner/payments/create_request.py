"""The POST /payments body: parsed and checked into a ``CreatePaymentCommand`` before anything is claimed.

Everything that can be known wrong without the gateway is refused here with a 400 naming the field:
shapes, sizes, ISO codes, decimals, and that the products add up to the amount in the payment's
currency (the gateway does not check it; a basket that does not add up is a bug in the partner's
order code, better caught on its first call than in a dispute). Whether ``channelId`` is a channel the
customer can use needs the payment methods: ``methods.require_active_channel`` (in the use case).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pay1st.models import MetadataItem, PaymentRequest, Product

from pay1st_partner.errors import InvalidRequest
from pay1st_partner.payments.callbacks import callback_urls, webhook_url
from pay1st_partner.references import is_attempt_reference
from pay1st_partner.request_fields import (
    is_utf8_text,
    object_list,
    reject_unknown,
    required_reference,
    required_string,
)

MAX_PRODUCTS = 50
MAX_METADATA = 20
# No basket holds more of one product; also keeps every number within DynamoDB's 38 digits.
MAX_QUANTITY = 1_000_000
# Money given as a string: plain ASCII digits with an optional fraction. Python's Decimal would also take
# "1_000", full-width digits, surrounding spaces and exponents, none of which is a sane way to write money.
# A leading '-' is allowed only so that a negative amount gets the model's clearer "must be positive".
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_TOP_LEVEL_FIELDS = frozenset(
    {"partnerReference", "amount", "currencyCode", "countryCode", "products", "metadata", "channelId"}
)
_PRODUCT_FIELDS = frozenset({"title", "sku", "price", "quantity", "currencyCode"})
_METADATA_FIELDS = frozenset({"key", "value"})


@dataclass(frozen=True)
class CreatePaymentCommand:
    """A validated create request (callback/webhook URLs are ours to set, so the partner cannot)."""

    partner_reference: str
    amount: Decimal
    currency_code: str
    country_code: str
    products: tuple[Product, ...]
    metadata: tuple[MetadataItem, ...]
    channel_id: str | None

    def to_request(self, base_url: str | None, callback_key: bytes | None = None) -> PaymentRequest:
        """The §7 request; with ``base_url`` it carries our per-payment callback URLs (with their token made
        with ``callback_key``) and webhook URL."""
        urls: dict[str, str] = {}
        if base_url is not None:
            if not callback_key:
                raise ValueError("callback URLs need the callback key")
            callbacks = callback_urls(base_url, self.partner_reference, callback_key)
            urls = {
                "callback_success_url": callbacks["success"],
                "callback_failure_url": callbacks["failure"],
                "callback_pending_url": callbacks["pending"],
                "callback_cancel_url": callbacks["cancel"],
                "webhook_url": webhook_url(base_url),
            }
        return PaymentRequest(
            amount=self.amount,
            country_code=self.country_code,
            currency_code=self.currency_code,
            partner_reference=self.partner_reference,
            products=self.products,
            metadata=self.metadata,
            **urls,
        )


# --- input ------------------------------------------------------------------------------------------


def _money(document: Mapping[str, Any], name: str, *, where: str = "") -> Decimal:
    value, field = document.get(name), f"{where}{name}"
    if value is None:
        raise InvalidRequest(f"{field}: is required")
    # JSON numbers arrive as Decimal/int (parsed with parse_float=Decimal); numeric strings are accepted too.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidRequest(f"{field}: must be a number")
    if isinstance(value, str):
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise InvalidRequest(f"{field}: must be a plain decimal number such as 250 or 250.50")
        return Decimal(value)
    return value if isinstance(value, Decimal) else Decimal(value)


def parse_create_request(body: Mapping[str, Any]) -> CreatePaymentCommand:
    """Validate the POST /payments body into a command; errors are 400s naming the field.

    Field checks the gateway's own models make (ISO codes, positive amounts, currency of every product,
    decimal places) run again in ``PaymentRequest`` and surface as ``ValidationError`` → 400 too.
    """
    reject_unknown(body, _TOP_LEVEL_FIELDS)
    partner_reference = required_reference(body, "partnerReference")
    if is_attempt_reference(partner_reference):
        # Reserved for our own attempts (README "Attempts"): it could collide with one at Pay1st.
        raise InvalidRequest(
            "partnerReference: must not end in '..' and a digit 2-9 (optionally followed by '.' and 12 "
            "hex digits): that form is reserved for new attempts of a payment"
        )
    currency_code = required_string(body, "currencyCode", max_length=3)
    country_code = required_string(body, "countryCode", max_length=2)
    amount = _money(body, "amount")

    products = []
    for raw in object_list(body, "products", limit=MAX_PRODUCTS, required=True):
        reject_unknown(raw, _PRODUCT_FIELDS, "products.")
        quantity = raw.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidRequest("products.quantity: must be an integer")
        if quantity > MAX_QUANTITY:
            raise InvalidRequest(f"products.quantity: must be at most {MAX_QUANTITY:,}")
        product_currency = raw.get("currencyCode", currency_code)
        if not isinstance(product_currency, str):
            raise InvalidRequest("products.currencyCode: must be a string")
        products.append(
            Product(
                title=required_string(raw, "title", max_length=200, where="products."),
                sku=required_string(raw, "sku", max_length=100, where="products."),
                price=_money(raw, "price", where="products."),
                quantity=quantity,
                currency_code=product_currency,
            )
        )

    metadata = []
    for raw in object_list(body, "metadata", limit=MAX_METADATA, required=False):
        reject_unknown(raw, _METADATA_FIELDS, "metadata.")
        metadata.append(
            MetadataItem(
                key=required_string(raw, "key", max_length=100, where="metadata."),
                value=required_string(raw, "value", max_length=500, where="metadata."),
            )
        )

    channel = body.get("channelId")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, str | int)):
        raise InvalidRequest("channelId: must be a string or an integer")
    channel_id = str(channel) if channel is not None and str(channel) != "" else None
    if channel_id is not None and len(channel_id) > 64:
        raise InvalidRequest("channelId: must be at most 64 characters")
    if channel_id is not None and not is_utf8_text(channel_id):
        raise InvalidRequest("channelId: must be valid Unicode text")

    command = CreatePaymentCommand(
        partner_reference=partner_reference,
        amount=amount,
        currency_code=currency_code,
        country_code=country_code,
        products=tuple(products),
        metadata=tuple(metadata),
        channel_id=channel_id,
    )
    command.to_request(None)  # runs the model's own validation now, before anything is claimed
    _require_products_add_up(command)
    return command


def _require_products_add_up(command: CreatePaymentCommand) -> None:
    """400 ``amount_mismatch`` unless the products' price * quantity add up to the amount, to the cent.

    Runs after the model's checks, so every product is already in the payment's currency.
    """
    total = sum((product.price * product.quantity for product in command.products), Decimal(0))
    if total == command.amount:
        return
    difference = command.amount - total
    side = "less" if difference > 0 else "more"
    raise InvalidRequest(
        f"products: price * quantity add up to {total} {command.currency_code}, {abs(difference)} {side} "
        f"than amount {command.amount}; the products must add up to the amount exactly.",
        code="amount_mismatch",
    )
