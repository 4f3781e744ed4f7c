"""§6 payment methods, §7 create, §9 status, §4 signature and timestamp checks, §13 error bodies."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pay1st_sandbox import SandboxServer
from sandbox_kit import (
    CHANNEL,
    PAYMENT,
    GatewayClient,
    assert_gateway_error,
    hmac_hex,
    iso_now,
    payment_body,
    to_json,
)

# -- §6 --


@pytest.mark.parametrize("country", ["NG", "ZA", "KE", "GH", "EG"])
def test_payment_methods_have_the_documented_shape(gw: GatewayClient, country: str) -> None:
    reply = gw.methods(gw.access_token(), country)

    assert reply.status == 200 and reply.headers["Content-Type"] == CHANNEL
    groups = reply.json()["data"]["groups"]
    assert groups, country
    entry_ids = []
    for group in groups:
        assert {"id", "name", "imageLocation", "channels"} <= set(group)
        for entry in group["channels"]:
            entry_ids.append(entry["id"])
            assert {"id", "name", "code", "status"} <= set(entry["paymentOption"])
            assert {"id", "name", "code", "paymentMethod", "status", "channelCode", "imageLocation"} <= set(
                entry["channel"]
            )
            method_type = entry["paymentMethodType"]
            assert {"id", "name", "code", "requiredParameters"} <= set(method_type)
            assert isinstance(method_type["requiredParameters"], str)  # a JSON document encoded as a string
            assert isinstance(json.loads(method_type["requiredParameters"]), dict)
            assert entry["channel"]["status"] in {"ACTIVE", "SUSPENDED"}
    assert len(entry_ids) == len(set(entry_ids))


def test_payment_methods_are_realistic_per_country(gw: GatewayClient) -> None:
    token = gw.access_token()

    def names(country: str) -> set[str]:
        groups = gw.methods(token, country).json()["data"]["groups"]
        return {entry["channel"]["name"] for group in groups for entry in group["channels"]}

    assert "M-Pesa" in names("KE")
    assert "MTN MoMo" in names("GH")
    assert "Ozow Instant EFT" in names("ZA")
    assert "Fawry" in names("EG")
    assert "Bank Transfer" in names("NG")
    assert "M-Pesa" not in names("ZA")


def test_payment_methods_of_an_unsupported_country_are_empty(gw: GatewayClient) -> None:
    assert gw.methods(gw.access_token(), "FR").json() == {"data": {"groups": []}}


@pytest.mark.parametrize("country", [None, "", "za", "ZAF", "Z1", "QQ", "XX"])
def test_payment_methods_need_a_country_code(gw: GatewayClient, country: str | None) -> None:
    assert_gateway_error(gw.methods(gw.access_token(), country), 400, "INVALID_REQUEST")


def test_payment_methods_errors(gw: GatewayClient) -> None:
    token = gw.access_token()
    assert_gateway_error(gw.methods(token, content_type=PAYMENT), 405, "UNSUPPORTED_MEDIA_TYPE")
    assert_gateway_error(gw.methods(token, content_type=""), 405, "UNSUPPORTED_MEDIA_TYPE")
    assert_gateway_error(gw.methods(None), 401, "MISSING_TOKEN")
    reply = gw.request(
        "POST", "/api/pay1st/payments/methods?countryCode=ZA", headers=gw.auth_headers(token, CHANNEL)
    )
    assert_gateway_error(reply, 405, "METHOD_NOT_ALLOWED")


# -- §7 --

EXACT_BODY = (
    b'{"countryCode":"ZA","currencyCode":"ZAR","amount":250.50,"partnerReference":"exact-1",'
    b'"products":[{"title":"500 Gems","sku":"GEM-500","price":250.50,"quantity":1,"currencyCode":"ZAR"}],'
    b'"metadata":[{"key":"playerId","value":"p-42"}]}'
)


def test_create_answers_201_new_with_exact_amount(gw: GatewayClient, server: SandboxServer) -> None:
    reply = gw.create(gw.access_token(), EXACT_BODY)

    assert reply.status == 201, reply.data
    assert reply.headers["Content-Type"] == PAYMENT
    assert b'"amount":250.50' in reply.data
    body = reply.json()
    assert set(body) == {"reference", "partnerReference", "countryCode", "currencyCode", "amount", "status"}
    assert body["status"] == "NEW" and body["partnerReference"] == "exact-1"
    assert body["reference"].startswith("C-") and body["reference"].endswith("-P")
    assert body["amount"] == Decimal("250.50")
    counters = server.control.counters()
    assert counters["payments_created"] == 1 and counters["POST /api/pay1st/payments/create"] == 1


def test_create_accepts_a_timestamp_anywhere_within_the_token_window(gw: GatewayClient) -> None:
    token = gw.access_token()
    # The window is relative to the token's creation, not to the request's arrival (§4).
    assert gw.create(token, payment_body(), timestamp=iso_now(-290)).status == 201
    assert gw.create(token, payment_body(), timestamp=iso_now(290)).status == 201
    assert (
        gw.create(token, payment_body(), timestamp=iso_now().replace(".000Z", "Z")[:19] + "Z").status == 201
    )


def test_create_with_per_payment_overrides(gw: GatewayClient, server: SandboxServer) -> None:
    overrides = {
        "callbackSuccessUrl": "https://shop.test/ok?partnerReference=a",
        "callbackFailureUrl": "https://shop.test/ko",
        "callbackPendingUrl": "https://shop.test/wait",
        "callbackCancelUrl": "https://shop.test/cancel",
        "webhookUrl": "https://shop.test/hook",
    }
    token, created = gw.new_payment(**overrides)

    status = gw.status(token, created["reference"]).json()

    assert status["partnerSettings"] == {
        "partnerId": 4242,
        "webhookUrl": "https://shop.test/hook",
        "successCallbackUrl": "https://shop.test/ok?partnerReference=a",
        "failureCallbackUrl": "https://shop.test/ko",
        "pendingCallbackUrl": "https://shop.test/wait",
        "cancelCallbackUrl": "https://shop.test/cancel",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"amount": None},
        {"amount": "250.50"},
        {"amount": 0},
        {"amount": -1},
        {"amount": True},
        {"countryCode": "za"},
        {"countryCode": "ZAF"},
        {"countryCode": "QQ"},  # shaped like a code, but not an assigned one
        {"countryCode": None},
        {"currencyCode": "ZA"},
        {"currencyCode": "QQQ"},
        {"currencyCode": None},
        {"amount": Decimal("250.505")},  # finer than the cent
        {"amount": Decimal("250.5"), "currencyCode": "JPY"},  # the yen has no minor unit
        {"amount": Decimal("1.2345"), "currencyCode": "KWD"},  # 3 digits at most
        {"partnerReference": ""},
        {"partnerReference": None},
        {"partnerReference": "x" * 129},
        {"products": []},
        {"products": None},
        {"products": ["GEM-500"]},
        {"metadata": None},
        {"metadata": [{"key": "playerId", "value": 42}]},
        {"metadata": [{"value": "p-42"}]},
        {"callbackSuccessUrl": "not-a-url"},
        {"callbackCancelUrl": 7},
        {"webhookUrl": "ftp://shop.test/hook"},
    ],
    ids=lambda change: ",".join(f"{k}={v!r}"[:30] for k, v in change.items()),
)
def test_create_with_an_invalid_body_is_400(
    gw: GatewayClient, server: SandboxServer, change: dict[str, Any]
) -> None:
    body = payment_body()
    for name, value in change.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    if "amount" in change and "currencyCode" in change:  # only the amount is wrong, not the products
        body["products"] = [{**body["products"][0], "price": 1, "currencyCode": change["currencyCode"]}]

    assert_gateway_error(gw.create(gw.access_token(), body), 400, "INVALID_REQUEST")
    assert server.control.payments() == []


@pytest.mark.parametrize(
    "product_change",
    [
        {"quantity": 0},
        {"quantity": Decimal("1.5")},
        {"quantity": "1"},
        {"price": "250.50"},
        {"price": -1},
        {"price": Decimal("250.505")},
        {"currencyCode": "NGN"},
        {"sku": ""},
        {"title": None},
    ],
    ids=str,
)
def test_create_with_an_invalid_product_is_400(gw: GatewayClient, product_change: dict[str, Any]) -> None:
    product = {**payment_body()["products"][0], **product_change}
    product = {k: v for k, v in product.items() if v is not None}
    reply = gw.create(gw.access_token(), payment_body(products=[product]))
    assert_gateway_error(reply, 400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"order"', b'{"amount": NaN}', b"[" * 100_000],
    ids=["empty", "truncated", "list", "string", "nan", "nested-too-deeply"],
)
def test_create_with_a_body_that_is_not_a_json_object_is_400(gw: GatewayClient, body: bytes) -> None:
    assert_gateway_error(gw.create(gw.access_token(), body), 400, "INVALID_JSON")


@pytest.mark.parametrize(
    ("currency", "country", "amount"),
    [
        ("ZAR", "ZA", b"250.500"),  # trailing zeros are not extra precision
        ("ZAR", "ZA", b"250"),
        ("JPY", "JP", b"1500"),
        ("KWD", "KW", b"1.234"),
        ("EUR", "FR", b"9.99"),  # assigned codes the catalogue has no methods for
    ],
)
def test_create_accepts_amounts_within_the_minor_unit(
    gw: GatewayClient, currency: str, country: str, amount: bytes
) -> None:
    body = (
        EXACT_BODY.replace(b"ZAR", currency.encode())
        .replace(b'"ZA"', f'"{country}"'.encode())
        .replace(b"250.50", amount)
        .replace(b"exact-1", f"fits-{currency}-{amount.decode()}".encode())
    )
    reply = gw.create(gw.access_token(), body)
    assert reply.status == 201, reply.data
    assert b'"amount":' + amount + b"," in reply.data


def test_create_with_an_oversized_body_is_400(gw: GatewayClient) -> None:
    body = to_json(payment_body(metadata=[{"key": "pad", "value": "x" * 300_000}]))
    assert_gateway_error(gw.create(gw.access_token(), body), 400, "PAYLOAD_TOO_LARGE")


def test_partner_reference_can_be_used_only_once(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    body = payment_body()
    assert gw.create(token, body).status == 201

    assert_gateway_error(gw.create(token, body), 400, "DUPLICATE_PARTNER_REFERENCE")
    different = payment_body(partnerReference=body["partnerReference"], amount=Decimal("9.99"))
    assert_gateway_error(gw.create(token, different), 400, "DUPLICATE_PARTNER_REFERENCE")
    assert len(server.control.payments()) == 1


def test_create_with_wrong_content_type_or_method_is_405(gw: GatewayClient) -> None:
    token = gw.access_token()
    assert_gateway_error(gw.create(token, payment_body(), content_type="application/json"), 405)
    assert_gateway_error(
        gw.create(token, payment_body(), content_type=CHANNEL), 405, "UNSUPPORTED_MEDIA_TYPE"
    )
    reply = gw.request("GET", "/api/pay1st/payments/create", headers=gw.auth_headers(token, PAYMENT))
    assert_gateway_error(reply, 405, "METHOD_NOT_ALLOWED")


def test_create_without_a_valid_token_is_401(gw: GatewayClient) -> None:
    assert_gateway_error(gw.create(None, payment_body()), 401, "MISSING_TOKEN")
    assert_gateway_error(gw.create("at+forged/x=", payment_body()), 401, "INVALID_TOKEN")


def test_create_checks_the_signature(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    body = to_json(payment_body())
    stamp = iso_now()
    good = hmac_hex(gw.signing_key, stamp, body)
    tampered = body.replace(b"250.5", b"2.5")
    assert_gateway_error(
        gw.create(token, tampered, timestamp=stamp, signature=good), 400, "INVALID_SIGNATURE"
    )
    assert_gateway_error(
        gw.create(token, body, timestamp=stamp, signature=good.upper()), 400, "INVALID_SIGNATURE"
    )
    wrong_key = hmac_hex("sk_other", stamp, body)
    assert_gateway_error(
        gw.create(token, body, timestamp=stamp, signature=wrong_key), 400, "INVALID_SIGNATURE"
    )
    # The signature covers the timestamp too.
    other_stamp = iso_now(1)
    assert_gateway_error(
        gw.create(token, body, timestamp=other_stamp, signature=good), 400, "INVALID_SIGNATURE"
    )
    assert server.control.payments() == []
    assert gw.create(token, body, timestamp=stamp, signature=good).status == 201


def test_create_without_signature_headers_is_400(gw: GatewayClient) -> None:
    token = gw.access_token()
    body = to_json(payment_body())
    headers = gw.auth_headers(token, PAYMENT)
    reply = gw.request("POST", "/api/pay1st/payments/create", body=body, headers=headers)
    assert_gateway_error(reply, 400, "MISSING_SIGNATURE")
    reply = gw.request(
        "POST", "/api/pay1st/payments/create", body=body, headers={**headers, "X-TIMESTAMP": iso_now()}
    )
    assert_gateway_error(reply, 400, "MISSING_SIGNATURE")


@pytest.mark.parametrize("stamp", ["2026-01-15 10:30:00", "1768473000", "2026-01-15T10:30:00", "now"])
def test_create_with_a_malformed_timestamp_is_400(gw: GatewayClient, stamp: str) -> None:
    assert_gateway_error(
        gw.create(gw.access_token(), payment_body(), timestamp=stamp), 400, "INVALID_TIMESTAMP"
    )


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_create_with_a_timestamp_outside_five_minutes_of_the_token_is_400(
    gw: GatewayClient, offset: int
) -> None:
    reply = gw.create(gw.access_token(), payment_body(), timestamp=iso_now(offset))
    assert_gateway_error(reply, 400, "TIMESTAMP_OUT_OF_WINDOW")


def test_signature_window_follows_the_refresh(gw: GatewayClient, server: SandboxServer) -> None:
    original, refresh = gw.tokens()
    server.control.set_faults(clock_skew_seconds=250)
    refreshed = gw.refresh(refresh).json()["accessToken"]
    # A client clock 500 s ahead: 500 s from the original token's creation (outside the window),
    # 250 s from the refreshed one's (inside). Both tokens are still alive.
    ahead = iso_now(500)
    assert_gateway_error(gw.create(original, payment_body(), timestamp=ahead), 400, "TIMESTAMP_OUT_OF_WINDOW")
    assert gw.create(refreshed, payment_body(), timestamp=ahead).status == 201


# -- §9 --


def test_status_echoes_the_request_with_reference_status_and_settings(gw: GatewayClient) -> None:
    token = gw.access_token()
    reference = gw.create(token, EXACT_BODY).json()["reference"]

    reply = gw.status(token, reference)

    assert reply.status == 200 and reply.headers["Content-Type"] == PAYMENT
    assert b'"amount":250.50' in reply.data and b'"price":250.50' in reply.data
    body = reply.json()
    assert body["reference"] == reference and body["status"] == "NEW"
    assert (
        body["partnerReference"] == "exact-1"
        and body["countryCode"] == "ZA"
        and body["currencyCode"] == "ZAR"
    )
    assert body["products"][0]["sku"] == "GEM-500" and body["metadata"] == [
        {"key": "playerId", "value": "p-42"}
    ]
    settings = body["partnerSettings"]
    assert settings["partnerId"] == 4242
    # The Console defaults of this sandbox (no per-payment override was sent).
    assert settings["successCallbackUrl"] == "https://shop.test/callbacks/success"
    assert settings["cancelCallbackUrl"] == "https://shop.test/callbacks/cancel"
    assert settings["webhookUrl"].startswith("http://127.0.0.1:")
    assert "channelId" not in body


def test_status_carries_the_channel_once_paid(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment(
        countryCode="KE",
        currencyCode="KES",
        products=[{"title": "Gems", "sku": "G", "price": 10, "quantity": 2, "currencyCode": "KES"}],
        amount=20,
    )
    page = gw.checkout(created["reference"], token, channel_id=302)
    assert gw.press(page, "pay").status == 303

    body = gw.status(token, created["reference"]).json()
    assert body["status"] == "SUCCESSFUL"
    assert body["channelId"] == 302 and body["channelName"] == "M-Pesa"


def test_status_follows_settlement(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment()
    server.control.settle(created["reference"], "fail")
    assert gw.status(token, created["reference"]).json()["status"] == "FAILED"


def test_status_errors(gw: GatewayClient) -> None:
    token, created = gw.new_payment()
    assert_gateway_error(gw.status(token, None), 400, "INVALID_REQUEST")
    assert_gateway_error(gw.status(token, "C-000000000000000-P"), 400, "UNKNOWN_REFERENCE")
    assert_gateway_error(gw.status(token, created["partnerReference"]), 400, "UNKNOWN_REFERENCE")
    assert_gateway_error(gw.status(None, created["reference"]), 401, "MISSING_TOKEN")
    assert_gateway_error(
        gw.status(token, created["reference"], content_type=CHANNEL), 405, "UNSUPPORTED_MEDIA_TYPE"
    )
    reply = gw.request("DELETE", f"/api/pay1st/payments?reference={created['reference']}")
    assert_gateway_error(reply, 405, "METHOD_NOT_ALLOWED")


def test_unknown_path_is_404_with_an_error_body(gw: GatewayClient) -> None:
    assert_gateway_error(gw.request("GET", "/api/pay1st/nothing"), 404, "NOT_FOUND")


def test_index_describes_the_sandbox(gw: GatewayClient) -> None:
    reply = gw.request("GET", "/")
    assert reply.status == 200 and reply.json()["control"] == "/_sandbox/"
