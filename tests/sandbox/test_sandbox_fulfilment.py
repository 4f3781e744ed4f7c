"""§12 fulfilment completion webhook (partner → gateway)."""

from __future__ import annotations

from typing import Any

import pytest
from pay1st_sandbox import SandboxServer
from sandbox_kit import CHANNEL, PAYMENT, GatewayClient, assert_gateway_error, iso_now


def _paid(gw: GatewayClient, server: SandboxServer) -> tuple[str, str]:
    token, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")
    return token, created["reference"]


def _fulfilment(reference: str, **item: Any) -> dict[str, Any]:
    product = {
        "sku": "GEM-500",
        "fulfilmentStatus": "FULFILLED",
        "quantity": 1,
        "fulfilmentTime": iso_now(),
        **item,
    }
    return {"reference": reference, "products": [{k: v for k, v in product.items() if v is not None}]}


def test_fulfilment_of_a_paid_payment_is_accepted_and_recorded(
    gw: GatewayClient, server: SandboxServer
) -> None:
    token, reference = _paid(gw, server)
    body = _fulfilment(reference, fulfilmentTime="2026-01-15T10:35:00Z")

    reply = gw.fulfil(token, body)

    assert reply.status == 200 and reply.data == b""
    (received,) = server.control.fulfilments()
    assert received["reference"] == reference and received["products"] == body["products"]
    assert received["partnerReference"].startswith("order-") and received["signedAt"]
    counters = server.control.counters()
    assert counters["fulfilments_received"] == 1 and counters["POST /api/pay1st/payments/fulfilments"] == 1


def test_fulfilment_may_be_repeated(gw: GatewayClient, server: SandboxServer) -> None:
    token, reference = _paid(gw, server)
    assert gw.fulfil(token, _fulfilment(reference)).status == 200
    assert gw.fulfil(token, _fulfilment(reference)).status == 200
    assert len(server.control.fulfilments()) == 2


@pytest.mark.parametrize("outcome", [None, "fail", "offline"])
def test_fulfilment_of_an_unpaid_payment_is_400(
    gw: GatewayClient, server: SandboxServer, outcome: str | None
) -> None:
    token, created = gw.new_payment()
    if outcome:
        server.control.settle(created["reference"], outcome)
    reply = gw.fulfil(token, _fulfilment(created["reference"]))
    assert_gateway_error(reply, 400, "PAYMENT_NOT_SUCCESSFUL")
    assert server.control.fulfilments() == []


def test_fulfilment_of_an_unknown_reference_or_sku_is_400(gw: GatewayClient, server: SandboxServer) -> None:
    token, reference = _paid(gw, server)
    assert_gateway_error(gw.fulfil(token, _fulfilment("C-113976984708914-P")), 400, "UNKNOWN_REFERENCE")
    assert_gateway_error(gw.fulfil(token, _fulfilment(reference, sku="OTHER")), 400, "UNKNOWN_SKU")


@pytest.mark.parametrize(
    "item",
    [
        {"quantity": 0},
        {"quantity": "1"},
        {"quantity": None},
        {"fulfilmentStatus": ""},
        {"fulfilmentStatus": None},
        {"fulfilmentTime": "yesterday"},
        {"fulfilmentTime": "2026-01-15T10:35:00"},
        {"fulfilmentTime": None},
        {"sku": None},
    ],
    ids=str,
)
def test_fulfilment_with_an_invalid_item_is_400(
    gw: GatewayClient, server: SandboxServer, item: dict[str, Any]
) -> None:
    token, reference = _paid(gw, server)
    assert_gateway_error(gw.fulfil(token, _fulfilment(reference, **item)), 400, "INVALID_REQUEST")


def test_fulfilment_with_an_invalid_shape_is_400(gw: GatewayClient, server: SandboxServer) -> None:
    token, reference = _paid(gw, server)
    assert_gateway_error(gw.fulfil(token, {"reference": reference, "products": []}), 400, "INVALID_REQUEST")
    assert_gateway_error(
        gw.fulfil(token, {"products": _fulfilment(reference)["products"]}), 400, "INVALID_REQUEST"
    )
    assert_gateway_error(gw.fulfil(token, b"[]"), 400, "INVALID_JSON")


def test_fulfilment_checks_signature_token_content_type_and_method(
    gw: GatewayClient, server: SandboxServer
) -> None:
    token, reference = _paid(gw, server)
    body = _fulfilment(reference)
    assert_gateway_error(gw.fulfil(token, body, signature="0" * 64), 400, "INVALID_SIGNATURE")
    assert_gateway_error(gw.fulfil(token, body, timestamp=iso_now(-400)), 400, "TIMESTAMP_OUT_OF_WINDOW")
    assert_gateway_error(gw.fulfil(None, body), 401, "MISSING_TOKEN")
    assert_gateway_error(gw.fulfil(token, body, content_type=CHANNEL), 405, "UNSUPPORTED_MEDIA_TYPE")
    reply = gw.request("GET", "/api/pay1st/payments/fulfilments", headers=gw.auth_headers(token, PAYMENT))
    assert_gateway_error(reply, 405, "METHOD_NOT_ALLOWED")
    assert server.control.fulfilments() == []
