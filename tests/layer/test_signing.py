"""§4 request signing: the contract's test vectors, and that the bytes signed are the bytes sent."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from layer_fakes import CREATE, CREDENTIALS, FULFILMENT, FakeGateway, make_client
from pay1st.models import FulfilmentItem, MetadataItem, PaymentRequest, Product, fulfilment_json_bytes
from pay1st.signing import format_timestamp, parse_timestamp, sign

KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"
CREATE_BODY = (
    '{"countryCode":"ZA","currencyCode":"ZAR","amount":250.50,"partnerReference":"order-1001",'
    '"products":[{"title":"500 Gems","sku":"GEM-500","price":250.50,"quantity":1,"currencyCode":"ZAR"}],'
    '"metadata":[{"key":"playerId","value":"p-42"}]}'
)
FULFILMENT_BODY = (
    '{"reference":"C-113976984708914-P","products":[{"sku":"GEM-500","fulfilmentStatus":"FULFILLED",'
    '"quantity":1,"fulfilmentTime":"2026-01-15T10:35:00Z"}]}'
)


def vector_request() -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal("250.50"),
        country_code="ZA",
        currency_code="ZAR",
        partner_reference="order-1001",
        products=(Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
        metadata=(MetadataItem("playerId", "p-42"),),
    )


def test_create_vector() -> None:
    expected = "8fa27e2c2f7ba876e4958053ad0cca2307eb29f03a714e2994e165b67c2ca69b"
    assert sign(KEY, "2026-01-15T10:30:00.000Z", CREATE_BODY) == expected
    assert sign(KEY, "2026-01-15T10:30:00.000Z", CREATE_BODY.encode()) == expected


def test_fulfilment_vector() -> None:
    expected = "e7b39bda25a9c339946ce22fcf73e55f0ef123d26656390933c488d17afa5e5f"
    assert sign(KEY, "2026-01-15T10:35:01Z", FULFILMENT_BODY) == expected


def test_models_serialize_to_the_vector_bodies_byte_for_byte() -> None:
    assert vector_request().to_json_bytes() == CREATE_BODY.encode()
    item = FulfilmentItem("GEM-500", 1, datetime(2026, 1, 15, 10, 35, tzinfo=UTC))
    assert fulfilment_json_bytes("C-113976984708914-P", [item]) == FULFILMENT_BODY.encode()


def test_signature_is_lowercase_hex_and_key_is_the_hmac_key() -> None:
    signature = sign("k", "t", b"body")
    assert signature == hmac.new(b"k", b"tbody", hashlib.sha256).hexdigest()
    assert signature == signature.lower() and len(signature) == 64
    assert sign("k", "t", b"body") != sign("body", "t", b"k")  # not the confusing reversed order


def test_non_ascii_body_is_signed_as_utf8() -> None:
    assert sign(KEY, "t", "Gemmé ✓") == sign(KEY, "t", "Gemmé ✓".encode())


@pytest.mark.parametrize(
    ("dt", "text"),
    [
        (datetime(2026, 1, 15, 10, 30, tzinfo=UTC), "2026-01-15T10:30:00.000Z"),
        (datetime(2026, 1, 15, 10, 30, 0, 123_999, tzinfo=UTC), "2026-01-15T10:30:00.123Z"),
        (datetime(2026, 1, 15, 12, 30, tzinfo=timezone(timedelta(hours=2))), "2026-01-15T10:30:00.000Z"),
    ],
)
def test_format_timestamp(dt: datetime, text: str) -> None:
    assert format_timestamp(dt) == text


def test_format_timestamp_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone"):
        format_timestamp(datetime(2026, 1, 15, 10, 30))


def test_parse_timestamp_round_trips_and_needs_a_zone() -> None:
    assert parse_timestamp("2026-01-15T10:35:01Z") == datetime(2026, 1, 15, 10, 35, 1, tzinfo=UTC)
    assert parse_timestamp("2026-01-15T12:35:01.500+02:00") == datetime(
        2026, 1, 15, 10, 35, 1, 500_000, tzinfo=UTC
    )
    for bad in ("2026-01-15T10:35:01", "yesterday", "", "1768473301"):
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_create_signs_exactly_the_bytes_on_the_wire(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    client.create_payment(vector_request())
    [request] = gateway.requests_to(CREATE)
    assert request.body == CREATE_BODY.encode()
    timestamp = request.header("X-TIMESTAMP")
    assert timestamp is not None
    assert request.header("X-SIGNATURE") == sign(CREDENTIALS.signing_key, timestamp, request.body)
    assert request.header("Content-Length") == str(len(request.body))


def test_fulfilment_signs_exactly_the_bytes_on_the_wire(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    item = FulfilmentItem("GEM-500", 1, datetime(2026, 1, 15, 10, 35, tzinfo=UTC))
    client.notify_fulfilment("C-113976984708914-P", [item])
    [request] = gateway.requests_to(FULFILMENT)
    assert request.body == FULFILMENT_BODY.encode()
    timestamp = request.header("X-TIMESTAMP")
    assert timestamp is not None
    assert request.header("X-SIGNATURE") == sign(CREDENTIALS.signing_key, timestamp, request.body)
