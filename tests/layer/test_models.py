"""Models: Decimal money end to end, ISO checks, product rules, and the contract's example documents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from layer_fakes import METHODS_DOCUMENT, status_document
from pay1st._fields import _Response
from pay1st.errors import ValidationError
from pay1st.models import (
    FINAL_STATUSES,
    KNOWN_STATUSES,
    CreatedPayment,
    CreatedRefund,
    FulfilmentItem,
    MetadataItem,
    PaymentDetails,
    PaymentMethods,
    PaymentRequest,
    PaymentStatus,
    Product,
    RefundWebhookEvent,
    WebhookEvent,
    fulfilment_json_bytes,
)


def product(**overrides: Any) -> Product:
    values: dict[str, Any] = {
        "title": "500 Gems",
        "sku": "GEM-500",
        "price": Decimal("250.50"),
        "quantity": 1,
        "currency_code": "ZAR",
    }
    values.update(overrides)
    return Product(**values)


def request(**overrides: Any) -> PaymentRequest:
    values: dict[str, Any] = {
        "amount": Decimal("250.50"),
        "country_code": "ZA",
        "currency_code": "ZAR",
        "partner_reference": "order-1001",
        "products": (product(),),
    }
    values.update(overrides)
    return PaymentRequest(**values)


def field_of(factory: Any, **overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        factory(**overrides)
    assert isinstance(caught.value, ValueError)
    return caught.value.field


# --- requests ---------------------------------------------------------------------------------------


def test_statuses() -> None:
    assert PaymentStatus.SUCCESSFUL == "SUCCESSFUL"
    assert FINAL_STATUSES == {"SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED"}
    assert KNOWN_STATUSES == FINAL_STATUSES | {"NEW", "PENDING"}
    assert PaymentStatus.is_final("FAILED") and not PaymentStatus.is_final("PENDING")
    assert not PaymentStatus.is_known("CHARGEBACK")


def test_amounts_stay_decimal_and_keep_their_digits_on_the_wire() -> None:
    body = request(amount=Decimal("1000.10"), products=(product(price=Decimal("1000.10")),)).to_json_bytes()
    assert b'"amount":1000.10' in body and b'"price":1000.10' in body
    parsed = json.loads(body, parse_float=Decimal)
    assert parsed["amount"] == Decimal("1000.10")


def test_int_and_numeric_string_amounts_become_decimal() -> None:
    assert request(amount=250, products=(product(price="250"),)).amount == Decimal(250)
    assert isinstance(request(amount="250.50").amount, Decimal)


@pytest.mark.parametrize("amount", [250.5, True, Decimal("NaN"), Decimal("Infinity"), "abc", None])
def test_amount_must_be_a_real_decimal(amount: Any) -> None:
    assert field_of(request, amount=amount) == "amount"


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-1")])
def test_amount_must_be_positive(amount: Decimal) -> None:
    assert field_of(request, amount=amount) == "amount"


def test_amount_must_fit_the_currency_minor_units() -> None:
    assert field_of(request, amount=Decimal("250.505")) == "amount"
    assert field_of(request, amount=Decimal("1e40")) == "amount"
    jpy = product(price=Decimal(500), currency_code="JPY")
    assert field_of(
        request, amount=Decimal("500.5"), currency_code="JPY", country_code="JP", products=(jpy,)
    ) == ("amount")
    assert request(amount=Decimal("500.00"), currency_code="JPY", country_code="JP", products=(jpy,))
    kwd = product(price=Decimal("1.125"), currency_code="KWD")
    assert request(amount=Decimal("1.125"), currency_code="KWD", country_code="KW", products=(kwd,))


@pytest.mark.parametrize("country", ["za", "ZAF", "XX", "", 27, None])
def test_country_must_be_iso_alpha2(country: Any) -> None:
    assert field_of(request, country_code=country) == "countryCode"


@pytest.mark.parametrize("currency", ["zar", "RAND", "ABC", "", None])
def test_currency_must_be_iso4217(currency: Any) -> None:
    assert field_of(request, currency_code=currency) == "currencyCode"


def test_products_must_not_be_empty() -> None:
    assert field_of(request, products=()) == "products"
    assert field_of(request, products=[]) == "products"


def test_product_currency_must_match_the_payment() -> None:
    assert field_of(request, products=(product(currency_code="NGN"),)) == "products.currencyCode"


@pytest.mark.parametrize("quantity", [0, -1, 1.0, "1", True])
def test_quantity_must_be_a_positive_integer(quantity: Any) -> None:
    assert field_of(product, quantity=quantity) == "products.quantity"


def test_product_rules() -> None:
    assert field_of(product, title=" ") == "products.title"
    assert field_of(product, sku="") == "products.sku"
    assert field_of(product, price=Decimal("-0.01")) == "products.price"
    assert field_of(product, price=9.99) == "products.price"
    assert product(price=Decimal(0)).price == 0  # a free item in a bundle is fine


def test_partner_reference_and_urls() -> None:
    assert field_of(request, partner_reference="") == "partnerReference"
    assert field_of(request, webhook_url="ftp://x") == "webhookUrl"
    assert field_of(request, callback_success_url="/relative") == "callbackSuccessUrl"
    assert field_of(request, metadata=(("k", "v"),)) == "metadata"
    assert field_of(MetadataItem, key="", value="x") == "metadata.key"


def test_optional_urls_are_sent_only_when_set() -> None:
    plain = json.loads(request().to_json_bytes())
    assert "webhookUrl" not in plain and plain["metadata"] == []
    full = json.loads(
        request(
            callback_success_url="https://api.example.com/callbacks/success?partnerReference=order-1001",
            callback_failure_url="https://api.example.com/callbacks/failure",
            callback_pending_url="https://api.example.com/callbacks/pending",
            callback_cancel_url="https://api.example.com/callbacks/cancel",
            webhook_url="https://api.example.com/webhooks/pay1st",
            metadata=[MetadataItem("playerId", "p-42")],
        ).to_json_bytes()
    )
    assert full["callbackSuccessUrl"].endswith("order-1001")
    assert {"callbackFailureUrl", "callbackPendingUrl", "callbackCancelUrl", "webhookUrl"} <= set(full)
    assert full["metadata"] == [{"key": "playerId", "value": "p-42"}]


def test_requests_are_frozen_and_products_become_a_tuple() -> None:
    built = request(products=[product()])
    assert isinstance(built.products, tuple)
    with pytest.raises(AttributeError):
        built.amount = Decimal(1)  # type: ignore[misc]


def test_fulfilment_items() -> None:
    assert field_of(FulfilmentItem, sku="A", quantity=1, fulfilment_time=datetime(2026, 1, 1)) == (
        "products.fulfilmentTime"
    )
    assert (
        field_of(FulfilmentItem, sku="A", quantity=0, fulfilment_time=datetime.now(UTC))
        == "products.quantity"
    )
    with pytest.raises(ValidationError):
        fulfilment_json_bytes("C-1-P", [])


# --- responses: the contract's documented examples --------------------------------------------------


def test_created_payment_201_example() -> None:
    body = (
        b'{"reference": "C-113976984708914-P", "partnerReference": "order-1001", "countryCode": "ZA",'
        b' "currencyCode": "ZAR", "amount": 250.50, "status": "NEW"}'
    )
    created = CreatedPayment.from_json(body)
    assert created == CreatedPayment(
        "C-113976984708914-P", "order-1001", "ZA", "ZAR", Decimal("250.50"), "NEW"
    )
    assert isinstance(created.amount, Decimal)


def test_payment_details_example() -> None:
    details = PaymentDetails.from_json(json.dumps(status_document("C-113976984708914-P")).encode())
    assert details.reference == "C-113976984708914-P"
    assert details.partner_reference == "order-1001"
    assert details.status == "SUCCESSFUL" and details.is_final
    assert details.amount == Decimal("250.50") and isinstance(details.amount, Decimal)
    assert (details.channel_id, details.channel_name) == ("101", "Visa/Mastercard")
    assert details.raw["partnerSettings"]["partnerId"] == 9001
    assert isinstance(details.raw["products"][0]["price"], Decimal)


def test_payment_details_without_optional_channel() -> None:
    document = status_document("C-1-P", status="PENDING")
    del document["channelId"], document["channelName"]
    details = PaymentDetails.from_json(json.dumps(document))
    assert details.channel_id is None and not details.is_final


def test_payment_methods_example() -> None:
    methods = PaymentMethods.from_json(json.dumps(METHODS_DOCUMENT))
    [group] = methods.groups
    assert group.name == "Cards" and len(group.channels) == 2
    card = methods.channel(101)
    assert card is not None and card.is_active and card.name == "Visa/Mastercard"
    assert card.required_parameters == {
        "fields": [{"name": "email", "type": "string", "min": Decimal("2.5")}]
    }
    eft = methods.channel("102")
    assert eft is not None and not eft.is_active
    assert methods.raw["data"]["groups"][0]["id"] == 1  # for passing through
    assert [c.id for c in methods.channels] == ["101", "102"]


def test_from_dict_refuses_documents_parsed_with_floats() -> None:
    # json.loads without parse_float=Decimal has already rounded the money: refuse rather than guess.
    assert field_of(PaymentDetails.from_dict, data=status_document("C-1-P")) == "amount"


def test_payment_methods_reject_a_document_without_groups() -> None:
    with pytest.raises(ValidationError):
        PaymentMethods.from_json(b'{"data": {}}')


def test_webhook_event_example_keeps_unknown_fields() -> None:
    body = (
        b'{"partnerId": 9001, "partnerCode": "STUDIO", "partnerReference": "order-1001",'
        b' "reference": "C-113976984708914-P", "orderAmount": 250.50, "currencyCode": "ZAR",'
        b' "countryCode": "ZA", "status": "SUCCESSFUL", "customer": {"email": "a@b.c"}}'
    )
    event = WebhookEvent.from_json(body)
    assert event.order_amount == Decimal("250.50") and isinstance(event.order_amount, Decimal)
    assert (event.partner_id, event.partner_code) == ("9001", "STUDIO")
    assert event.raw["customer"] == {"email": "a@b.c"}


def test_webhook_event_accepts_unknown_statuses() -> None:
    body = (
        b'{"partnerReference": "o", "reference": "r", "orderAmount": 1, "currencyCode": "NGN",'
        b' "countryCode": "NG", "status": "CHARGEBACK"}'
    )
    event = WebhookEvent.from_json(body)
    assert event.status == "CHARGEBACK" and event.partner_id is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"reference": "r", "orderAmount": 1, "currencyCode": "NGN", "countryCode": "NG", "status": "NEW"}',
        b'{"partnerReference": "o", "reference": "r", "currencyCode": "NGN", "countryCode": "NG", "status": "NEW"}',
        b"[1, 2]",
        b"not json",
        b'{"partnerReference": "o", "reference": "r", "orderAmount": "x", "currencyCode": "NGN",'
        b' "countryCode": "NG", "status": "NEW"}',
    ],
)
def test_webhook_event_rejects_incomplete_documents(body: bytes) -> None:
    with pytest.raises(ValidationError):
        WebhookEvent.from_json(body)


NESTED_TOO_DEEPLY = b"[" * 100_000  # json.loads raises RecursionError, not ValueError


@pytest.mark.parametrize(
    "parse",
    [CreatedPayment.from_json, PaymentDetails.from_json, PaymentMethods.from_json, WebhookEvent.from_json],
    ids=["created", "details", "methods", "webhook"],
)
@pytest.mark.parametrize("body", [NESTED_TOO_DEEPLY, b'{"data": ' + NESTED_TOO_DEEPLY + b"]}"])
def test_documents_nested_too_deeply_are_invalid_json(parse: Any, body: bytes) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(body)
    assert caught.value.field == "body"
    with pytest.raises(ValidationError):
        parse(body.decode())


def test_required_parameters_nested_too_deeply_are_kept_as_the_string() -> None:
    document = json.loads(json.dumps(METHODS_DOCUMENT))
    deep = NESTED_TOO_DEEPLY.decode()
    document["data"]["groups"][0]["channels"][0]["paymentMethodType"]["requiredParameters"] = deep
    card = PaymentMethods.from_json(json.dumps(document)).channel(101)
    assert card is not None and card.required_parameters == deep


# --- responses read from their declared fields ------------------------------------------------------


@dataclass(frozen=True)
class _Sample(_Response):
    partner_reference: str
    order_amount: Decimal
    refund_amount: Decimal | None
    channel_name: str | None
    full_refund: bool | None
    raw: Mapping[str, Any]


def test_a_response_reads_each_field_by_its_camel_case_name_and_declared_type() -> None:
    """Given a document with camelCase keys, When a response model reads it, Then each field is read under
    its camelCase name by its declared type (optional ones None when absent or empty), raw keeps it all."""
    sample = _Sample.from_json(b'{"partnerReference": "o", "orderAmount": 1.10, "channelName": "", "x": 1}')
    assert sample == _Sample("o", Decimal("1.10"), None, None, None, sample.raw)
    assert sample.raw["x"] == 1
    assert (
        _Sample.from_dict({"partnerReference": "o", "orderAmount": 1, "fullRefund": "yes"}).full_refund
        is None
    )
    assert field_of(
        _Sample.from_dict, data={"partnerReference": "o", "orderAmount": 1, "refundAmount": ""}
    ) == ("refundAmount")
    # Fields are read in declared order: the first missing one is the one named.
    assert field_of(_Sample.from_dict, data={}) == "partnerReference"


def test_a_response_field_no_reader_knows_fails_loudly() -> None:
    """Given a response model declaring a type no reader knows, When it reads a document, Then it raises
    TypeError naming the field (never a silently missing value)."""

    @dataclass(frozen=True)
    class Odd(_Response):
        count: int

    with pytest.raises(TypeError, match=r"Odd\.count"):
        Odd.from_dict({"count": 1})


@pytest.mark.parametrize(
    "model", [CreatedPayment, PaymentDetails, WebhookEvent, CreatedRefund, RefundWebhookEvent]
)
def test_every_gateway_response_model_is_readable(model: type[_Response]) -> None:
    """Given a gateway response model, When it reads an empty document, Then it names a missing field
    (a field no reader knows would raise TypeError instead)."""
    assert field_of(model.from_dict, data={})


def test_created_payment_reads_its_transaction_id_from_the_whole_document() -> None:
    """Given a 201 answer carrying a ``C-…-T`` id under some field, When it is read, Then the field read from
    the whole document (``_READ`` metadata) finds it; without one it is None."""
    body = {
        "reference": "C-1-P",
        "partnerReference": "o",
        "countryCode": "NG",
        "currencyCode": "NGN",
        "amount": 1,
        "status": "NEW",
    }
    assert CreatedPayment.from_dict(body).transaction_id is None
    assert CreatedPayment.from_dict({**body, "txn": "C-42-T"}).transaction_id == "C-42-T"
