"""POST /payments refuses what cannot work, before anything is claimed or sent to Pay1st: a body not sent
as JSON (415, on every JSON route), products that do not add up to the amount, and a channelId the
customer could not pay with (checked against the cached payment methods, on moto and the sandbox)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functions.outbound import SKU, call, create, create_body

CREATE_ROUTE = "POST /api/pay1st/payments/create"
METHODS_ROUTE = "GET /api/pay1st/payments/methods"


def _creates(sandbox: Any) -> int:
    return int(sandbox.control.counters().get(CREATE_ROUTE, 0))


def _item(aws: Any, partner_reference: str) -> dict[str, Any] | None:
    found = aws.dynamodb.get_item(
        TableName="PaymentsTable", Key={"partnerReference": {"S": partner_reference}}
    )
    return found.get("Item")


def _post(http_event, lambda_context, module: str, path: str, body: str, content_type: str | None, **kw):
    app = __import__(f"functions.{module}.app", fromlist=["app"])
    event = http_event("POST", path, body=body, **kw)
    if content_type is None:
        del event["headers"]["content-type"]
    else:
        event["headers"]["content-type"] = content_type
    return call(app.lambda_handler, event, lambda_context)


# --- Content-Type ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonp", "multipart/form-data", ""],
    ids=["missing", "text", "form", "jsonp", "multipart", "empty"],
)
def test_a_body_not_declared_json_is_415_and_nothing_is_created(
    aws, sandbox, lambda_context, http_event, content_type
):
    # Given a valid order sent with the wrong (or no) Content-Type
    result = _post(
        http_event, lambda_context, "create_payment", "/payments", create_body("o-ct"), content_type
    )

    # Then it is refused as such, and neither our table nor the gateway saw it
    assert (result.status, result.code) == (415, "unsupported_media_type"), result.body
    assert "application/json" in result.body["message"]
    assert _item(aws, "o-ct") is None and _creates(sandbox) == 0


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", " application/json "]
)
def test_json_with_parameters_or_in_any_case_is_accepted(
    aws, sandbox, lambda_context, http_event, content_type
):
    result = _post(
        http_event, lambda_context, "create_payment", "/payments", create_body("o-ok"), content_type
    )
    assert result.status == 201, result.body


@pytest.mark.parametrize(
    ("module", "path"),
    [("fulfilment", "/payments/o-1/fulfilment"), ("create_refund", "/payments/o-1/refunds")],
)
def test_every_json_route_refuses_a_body_not_declared_json(aws, lambda_context, http_event, module, path):
    body = json.dumps({"products": [{"sku": SKU, "quantity": 1}], "refundReference": "r-1"})
    result = _post(
        http_event, lambda_context, module, path, body, "text/plain", path_params={"partnerReference": "o-1"}
    )
    assert (result.status, result.code) == (415, "unsupported_media_type")


# --- products add up to the amount --------------------------------------------------------------------


def _basket(amount: str, *products: tuple[str, int, str]) -> str:
    document = json.loads(create_body("o-sum"))
    document["amount"] = amount
    document["products"] = [
        {
            "title": f"item {i}",
            "sku": f"SKU-{i}",
            "price": price,
            "quantity": quantity,
            "currencyCode": currency,
        }
        for i, (price, quantity, currency) in enumerate(products)
    ]
    return json.dumps(document)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_basket("250.50", ("240.50", 1, "ZAR")), "10.00 less than amount 250.50"),
        (_basket("100", ("30.00", 2, "ZAR"), ("50", 1, "ZAR")), "10.00 more than amount 100"),
        (_basket("0.01", ("0.02", 1, "ZAR")), "0.01 more"),
    ],
    ids=["short", "over", "one-cent"],
)
def test_products_that_do_not_add_up_are_400_naming_the_difference(
    aws, sandbox, lambda_context, http_event, body, named
):
    result = create(http_event, lambda_context, body)
    assert (result.status, result.code) == (400, "amount_mismatch")
    assert named in result.body["message"]
    assert _item(aws, "o-sum") is None and _creates(sandbox) == 0


def test_a_basket_of_several_products_that_adds_up_is_created(aws, sandbox, lambda_context, http_event):
    result = create(http_event, lambda_context, _basket("250.50", ("100.25", 2, "ZAR"), ("50", 1, "ZAR")))
    assert result.status == 201, result.body


def test_a_product_in_another_currency_is_400(aws, sandbox, lambda_context, http_event):
    result = create(http_event, lambda_context, _basket("250.50", ("250.50", 1, "USD")))
    assert result.status == 400 and result.body["message"].startswith("products.currencyCode:")
    assert _creates(sandbox) == 0


# --- channelId ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "why"),
    [("abc", "not a payment channel"), (-1, "not a payment channel"), (999999, "not a payment channel"),
     (204, "not active"), (302, "not a payment channel")],
    ids=["text", "negative", "unknown", "suspended", "other-country"],
)  # fmt: skip
def test_a_channel_the_customer_cannot_use_is_400_listing_the_valid_ones(
    aws, sandbox, lambda_context, http_event, channel, why
):
    # Given the sandbox's ZA channels: 201 and 202 active, 204 suspended (302 is Kenya's M-Pesa)
    result = create(http_event, lambda_context, create_body("o-ch", channelId=channel))

    assert (result.status, result.code) == (400, "invalid_channel")
    message = result.body["message"]
    assert why in message and "201, 202" in message and "GET /payment-methods?countryCode=ZA" in message
    assert _item(aws, "o-ch") is None and _creates(sandbox) == 0


def test_an_active_channel_is_accepted_and_the_methods_are_fetched_once_per_ttl(
    aws, sandbox, lambda_context, http_event
):
    for n in range(3):
        result = create(http_event, lambda_context, create_body(f"o-ch-{n}", channelId="201"))
        assert result.status == 201, result.body
    assert int(sandbox.control.counters().get(METHODS_ROUTE, 0)) == 1  # the cached list serves the rest


def test_without_a_channel_no_methods_are_fetched(aws, sandbox, lambda_context, http_event):
    assert create(http_event, lambda_context, create_body("o-no-ch")).status == 201
    assert int(sandbox.control.counters().get(METHODS_ROUTE, 0)) == 0


def test_methods_that_cannot_be_fetched_are_502_saying_so_and_nothing_is_created(
    aws, sandbox, lambda_context, http_event
):
    # Given the gateway fails every payment methods request and nothing is cached
    sandbox.control.set_faults(rate_5xx={METHODS_ROUTE: 1.0})

    result = create(http_event, lambda_context, create_body("o-ch-down", channelId=202))

    # Then the partner is told the channel could not be checked, and no payment was made or claimed
    assert (result.status, result.code) == (502, "payment_methods_unavailable")
    assert "payment methods for ZA could not be fetched" in result.body["message"]
    assert _item(aws, "o-ch-down") is None and _creates(sandbox) == 0


# --- currency fits the country -----------------------------------------------------------------------


def _priced(currency: str, country: str, reference: str = "o-cur") -> str:
    document = json.loads(create_body(reference))
    document.update(currencyCode=currency, countryCode=country)
    for product in document["products"]:
        product["currencyCode"] = currency
    return json.dumps(document)


def test_a_currency_its_country_does_not_pay_in_is_400_and_nothing_is_created(
    aws, sandbox, lambda_context, http_event
):
    """Given an order in USD for South Africa (the sandbox would take it), When it is created, Then it is
    refused 400 currency_mismatch naming ZAR, and neither our table nor Pay1st saw it."""
    result = create(http_event, lambda_context, _priced("USD", "ZA"))
    assert (result.status, result.code) == (400, "currency_mismatch"), result.body
    assert "ZAR" in result.body["message"]
    assert _item(aws, "o-cur") is None and _creates(sandbox) == 0
    # And the same order in ZAR is created
    assert create(http_event, lambda_context, _priced("ZAR", "ZA", "o-cur-zar")).status == 201


def test_the_payment_methods_list_naming_currencies_is_the_first_word_and_no_list_falls_back():
    """A cached §6 list whose entries name a currency decides; no list (or none named): the country's own."""
    from pay1st_partner.errors import InvalidRequest
    from pay1st_partner.payments.currency_fit import require_currency_fits
    from pay1st_partner.payments.methods import PaymentMethodsCache

    cache = PaymentMethodsCache(300)
    cache.put("ZA", {"groups": [{"channels": [{"id": 1, "channel": {"currencyCode": "usd"}}]}]})
    require_currency_fits("ZA", "USD", cache)  # Pay1st's list names USD for ZA: taken
    with pytest.raises(InvalidRequest, match="use USD"):
        require_currency_fits("ZA", "ZAR", cache)
    cache.put("NG", {"groups": [{"channels": [{"id": 2, "channel": {"code": "CARD"}}]}]})
    with pytest.raises(InvalidRequest, match="use NGN"):
        require_currency_fits("NG", "ZAR", cache)  # the list names none: the country's own
    require_currency_fits("FR", "USD", None)  # neither knows France: Pay1st decides


# --- charset ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "path"),
    [
        ("create_payment", "/payments"),
        ("fulfilment", "/payments/o-1/fulfilment"),
        ("create_refund", "/payments/o-1/refunds"),
    ],
)
@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", '"iso-8859-1"'])
def test_a_json_body_labelled_with_another_charset_is_415(
    aws, sandbox, lambda_context, http_event, module, path, charset
):
    """Given a JSON body whose Content-Type says it is not UTF-8, Then every JSON route refuses it 415
    naming the charset, and nothing is created."""
    body = create_body("o-cs") if module == "create_payment" else json.dumps({"refundReference": "r-1"})
    content_type = f"application/json; charset={charset}"
    result = _post(
        http_event, lambda_context, module, path, body, content_type, path_params={"partnerReference": "o-1"}
    )
    assert (result.status, result.code) == (415, "unsupported_media_type"), result.body
    assert f"charset={charset.strip(chr(34)).lower()}" in result.body["message"]
    assert _item(aws, "o-cs") is None and _creates(sandbox) == 0


@pytest.mark.parametrize("path", ["/webhooks/pay1st", "/webhooks/pay1st/refunds"])
def test_a_webhook_labelled_with_another_charset_is_415_and_one_with_none_or_utf8_is_read(
    aws, lambda_context, http_event, path
):
    from functions.webhook_intake import app

    body = json.dumps({"partnerReference": "o-1", "status": "SUCCESSFUL"})
    for content_type, status in (("application/json; charset=utf-16", 415), ("application/json; charset=UTF-8", 401), (None, 401)):  # fmt: skip
        headers = {"content-type": content_type} if content_type else {}
        event = http_event("POST", path, body=body, headers=headers)
        if content_type is None:
            event["headers"].pop("content-type", None)
        result = call(app.lambda_handler, event, lambda_context)
        assert result.status == status, (content_type, result.body)  # unsigned: 401 once read
