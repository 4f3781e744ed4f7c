"""POST /payments: the real handler with HTTP API v2 events, on moto and the Pay1st sandbox over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pay1st_partner import runtime

from tests.conftest import PUBLIC_BASE_URL, FakeLambdaContext
from tests.functions.outbound import SKU, create, create_body

CREATE_ROUTE = "POST /api/pay1st/payments/create"


def _item(aws: Any, partner_reference: str) -> dict[str, Any] | None:
    item = aws.dynamodb.get_item(
        TableName="PaymentsTable", Key={"partnerReference": {"S": partner_reference}}
    )
    return item.get("Item")


def _creates(sandbox: Any) -> int:
    return int(sandbox.control.counters().get(CREATE_ROUTE, 0))


# --- success --------------------------------------------------------------------------------------------


def test_creates_the_payment_and_answers_201_with_a_checkout_link(aws, sandbox, lambda_context, http_event):
    # Given a valid request
    # When it is posted
    result = create(http_event, lambda_context, create_body("order-1001"))

    # Then the payment exists at the gateway and in our table, and the answer points at the hosted page
    assert result.status == 201
    body = result.body
    assert body["partnerReference"] == "order-1001"
    assert body["status"] == "NEW"
    assert body["amount"] == "250.50"
    assert (body["currencyCode"], body["countryCode"]) == ("ZAR", "ZA")
    assert body["reference"]
    link = urlsplit(body["checkoutUrl"])
    assert f"{link.scheme}://{link.netloc}" == sandbox.base_url
    assert link.path == "/checkout"
    assert parse_qs(link.query)["reference"] == [body["reference"]]
    assert parse_qs(link.query)["accessToken"]
    assert result.headers["Cache-Control"] == "no-store"
    assert "Idempotent-Replayed" not in result.headers

    item = _item(aws, "order-1001")
    assert item is not None
    assert item["status"]["S"] == "NEW"
    assert item["reference"]["S"] == body["reference"]
    assert "checkout" not in json.dumps(item)  # the link (and its token) is never stored
    assert _creates(sandbox) == 1


def test_sends_per_payment_callback_urls_carrying_our_partner_reference(
    aws, sandbox, lambda_context, http_event
):
    # When a payment is created
    result = create(http_event, lambda_context, create_body("order:7/x".replace("/", "-")))
    assert result.status == 201

    # Then the gateway holds our webhook URL and callback URLs that name the payment
    stored = sandbox.control.payment(result.body["reference"])
    request = stored.get("request") or stored.get("statusDocument") or stored
    text = json.dumps(stored, default=str)
    assert f"{PUBLIC_BASE_URL}/webhooks/pay1st" in text
    for outcome in ("success", "failure", "pending", "cancel"):
        assert f"{PUBLIC_BASE_URL}/callbacks/{outcome}?partnerReference=order%3A7-x" in text
    assert request  # the sandbox kept the §7 request


def test_channel_id_picks_the_method_in_the_checkout_link(aws, sandbox, lambda_context, http_event):
    result = create(http_event, lambda_context, create_body("order-ch", channelId=202))
    assert result.status == 201
    assert parse_qs(urlsplit(result.body["checkoutUrl"]).query)["channelId"] == ["202"]
    assert result.body["channelId"] == "202"


def test_public_base_url_falls_back_to_the_api_domain(aws, sandbox, lambda_context, http_event, monkeypatch):
    # Given no PUBLIC_BASE_URL (as deployed: the API's own execute-api address is used)
    monkeypatch.setenv("PUBLIC_BASE_URL", "")
    runtime.reset()
    event = http_event(
        "POST", "/payments", body=create_body("order-dom"), domain_name="x1.execute-api.example"
    )
    from functions.create_payment import app

    raw = app.lambda_handler(event, lambda_context)
    assert raw["statusCode"] == 201
    reference = json.loads(raw["body"])["reference"]
    assert "https://x1.execute-api.example/webhooks/pay1st" in json.dumps(
        sandbox.control.payment(reference), default=str
    )


def test_emits_payments_created_and_logs_no_token(aws, sandbox, lambda_context, http_event, capsys):
    result = create(http_event, lambda_context, create_body("order-log"))
    assert result.status == 201
    token = parse_qs(urlsplit(result.body["checkoutUrl"]).query)["accessToken"][0]
    out = capsys.readouterr().out
    assert '"PaymentsCreated":[1.0]' in out
    assert token not in out
    assert "accessToken" not in out


def test_token_metrics_count_the_tokens_each_invocation_requested(
    aws, sandbox, lambda_context, http_event, capsys
):
    # Given a cold container: the first create needs a token from the gateway
    assert create(http_event, lambda_context, create_body("order-tok-1")).status == 201
    first = capsys.readouterr().out
    # When a second create runs warm, with the token still in memory
    assert create(http_event, lambda_context, create_body("order-tok-2")).status == 201
    second = capsys.readouterr().out

    # Then only the first invocation reports a token issued, and neither a refresh
    assert '"TokensIssued":[1.0]' in first
    assert "TokensIssued" not in second
    assert "TokenRefreshes" not in first + second
    assert sandbox.control.counters()["tokens_issued"] == 1


# --- idempotency ----------------------------------------------------------------------------------------


def test_a_repeat_returns_the_same_payment_without_a_second_gateway_create(
    aws, sandbox, lambda_context, http_event
):
    # Given a created payment
    first = create(http_event, lambda_context, create_body("order-rep"))
    # When the same request is posted again (amount written differently but equal)
    second = create(http_event, lambda_context, create_body("order-rep", amount="250.5"))

    # Then it is the same payment, flagged as a replay, with a link; the gateway saw one create
    assert second.status == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.body["reference"] == first.body["reference"]
    assert second.body["checkoutUrl"]
    assert _creates(sandbox) == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": "300.00"},
        {"currencyCode": "NGN", "countryCode": "NG"},
        {"products": [{"title": "1000 Gems", "sku": "GEM-1000", "price": 250.50, "quantity": 1}]},
    ],
    ids=["amount", "currency", "products"],
)
def test_the_same_reference_with_a_different_payment_is_409(
    aws, sandbox, lambda_context, http_event, changed
):
    assert create(http_event, lambda_context, create_body("order-409")).status == 201
    amount = changed.pop("amount", "250.50")
    body = json.loads(create_body("order-409", amount=amount))
    body.update(changed)
    if "currencyCode" in changed:
        body["products"][0]["currencyCode"] = changed["currencyCode"]
        body["amount"] = body["products"][0]["price"] = 250

    result = create(http_event, lambda_context, json.dumps(body))

    assert result.status == 409
    assert result.code == "payment_conflict"
    assert _creates(sandbox) == 1


def test_a_create_still_in_flight_is_409_create_in_progress(aws, sandbox, lambda_context, http_event):
    # Given another invocation has claimed the reference and is talking to the gateway
    from pay1st_partner.fingerprints import fingerprint
    from pay1st_partner.payments.create import parse_create_request

    request = parse_create_request(
        json.loads(create_body("order-busy"), parse_float=__import__("decimal").Decimal)
    )
    payment_request = request.to_request(PUBLIC_BASE_URL, runtime.callback_key())
    runtime.payments().claim(payment_request, fingerprint(payment_request), None)

    # When the partner retries
    result = create(http_event, lambda_context, create_body("order-busy"))

    # Then it is told to wait, and nothing reached the gateway
    assert result.status == 409
    assert result.code == "create_in_progress"
    assert _creates(sandbox) == 0


def test_a_claim_abandoned_by_a_killed_invocation_is_created_on_repeat(
    aws, sandbox, lambda_context, http_event
):
    # Given an invocation claimed the reference and was killed before calling the gateway
    # (a Lambda timeout runs no except/finally), three minutes ago
    from pay1st_partner.fingerprints import fingerprint
    from pay1st_partner.payments.create import parse_create_request

    request = parse_create_request(
        json.loads(create_body("order-orphan"), parse_float=__import__("decimal").Decimal)
    )
    payment_request = request.to_request(PUBLIC_BASE_URL, runtime.callback_key())
    runtime.payments().claim(payment_request, fingerprint(payment_request), None)
    aws.dynamodb.update_item(
        TableName="PaymentsTable",
        Key={"partnerReference": {"S": "order-orphan"}},
        UpdateExpression="SET updatedAt = :old",
        ExpressionAttributeValues={":old": {"S": "2026-01-15T10:30:00.000Z"}},
    )

    # When the partner retries
    result = create(http_event, lambda_context, create_body("order-orphan"))

    # Then the payment is created once at the gateway and recorded as NEW
    assert result.status == 201
    assert result.body["status"] == "NEW"
    assert _item(aws, "order-orphan")["status"]["S"] == "NEW"
    assert _creates(sandbox) == 1


# --- gateway failures -----------------------------------------------------------------------------------


def test_an_unknown_create_outcome_is_502_and_the_payment_is_kept_unknown(aws, sandbox, http_event):
    # Given a warm container (a cold one spends part of the short budget below importing and reading secrets)
    assert create(http_event, FakeLambdaContext(), create_body("order-warm-up")).status == 201
    # And a gateway that stores the payment but answers too late for our deadline
    sandbox.control.set_faults(create_stall_seconds=3.0, create_stall_count=1)

    result = create(http_event, FakeLambdaContext(timeout_seconds=2.5), create_body("order-slow"))

    assert result.status == 502
    assert result.code == "create_outcome_unknown"
    assert _item(aws, "order-slow")["status"]["S"] == "CREATE_UNKNOWN"
    # And the message says what the partner can do about it
    message = result.body["message"]
    assert "CREATE_UNKNOWN until a Pay1st webhook resolves it" in message
    assert "Repeating this same request is safe" in message
    assert "no checkout link" in message and "NEW partnerReference is safe" in message

    # When the partner repeats it, the gateway refuses the known partnerReference as a duplicate, so the
    # same repeat makes a new attempt under a derived reference (README "Attempts") and answers its link
    creates_before = _creates(sandbox)
    again = create(http_event, FakeLambdaContext(), create_body("order-slow"))
    assert _creates(sandbox) == creates_before + 2  # the refused repeat, then the new attempt
    assert again.status == 201 and again.body["checkoutUrl"]
    assert _item(aws, "order-slow")["status"]["S"] == "NEW"
    assert _item(aws, "order-slow")["attemptReference"]["S"] == "order-slow..2"
    # And the gateway never holds two payments under one reference
    held = [p.get("partnerReference") for p in sandbox.control.payments()]
    assert held.count("order-slow") == 1 and held.count("order-slow..2") == 1


def test_a_repeat_rescues_a_create_that_never_arrived(aws, sandbox, lambda_context, http_event, capsys):
    # Given the gateway failed the create with a 5xx (which may or may not follow processing)
    sandbox.control.set_faults(rate_5xx={CREATE_ROUTE: 1.0})
    first = create(http_event, lambda_context, create_body("order-5xx"))
    assert first.status == 502
    assert first.code == "create_outcome_unknown"
    assert '"CreateOutcomeUnknown":[1.0]' in capsys.readouterr().out

    # When the gateway recovers and the partner repeats the request
    sandbox.control.clear_faults()
    second = create(http_event, lambda_context, create_body("order-5xx"))

    # Then the same partnerReference is created once and the payment adopted
    assert second.status == 201
    assert second.body["status"] == "NEW"
    assert _item(aws, "order-5xx")["reference"]["S"] == second.body["reference"]


def test_a_clean_gateway_refusal_releases_the_claim_and_surfaces_the_error_code(
    aws, sandbox, lambda_context, http_event
):
    # Given the gateway already knows this partnerReference (our record of it is gone)
    assert create(http_event, lambda_context, create_body("order-dup")).status == 201
    aws.dynamodb.delete_item(TableName="PaymentsTable", Key={"partnerReference": {"S": "order-dup"}})

    # When it is created again
    result = create(http_event, lambda_context, create_body("order-dup"))

    # Then the refusal is passed on with the gateway's errorCode, and no claim is left behind
    assert result.status == 422
    assert result.code == "gateway_rejected"
    assert "DUPLICATE_PARTNER_REFERENCE" in result.body["message"]
    assert "accessToken" not in json.dumps(result.body)
    assert _item(aws, "order-dup") is None


def test_credentials_refused_by_the_gateway_are_502_and_retryable(aws, sandbox, lambda_context, http_event):
    sandbox.control.set_faults(token_forbidden=True)
    result = create(http_event, lambda_context, create_body("order-403"))
    assert result.status == 502
    assert result.code == "gateway_rejected"
    assert _item(aws, "order-403") is None

    sandbox.control.clear_faults()
    assert create(http_event, lambda_context, create_body("order-403")).status == 201


def test_an_unreachable_gateway_is_502_gateway_unavailable(aws, lambda_context, http_event):
    # Given nothing listens at the gateway URL (the aws fixture's default)
    result = create(http_event, lambda_context, create_body("order-down"))

    assert result.status == 502
    assert result.code == "gateway_unavailable"
    assert _item(aws, "order-down") is None  # the claim was released: a retry may create it


def test_a_rate_limited_gateway_is_502_gateway_unavailable(aws, sandbox, lambda_context, http_event):
    sandbox.control.set_faults(rate_429={CREATE_ROUTE: 1.0})
    result = create(http_event, lambda_context, create_body("order-429"))
    assert result.status == 502
    assert result.code == "gateway_unavailable"
    assert _item(aws, "order-429") is None


# --- bad input ------------------------------------------------------------------------------------------


def _with(**changes: Any) -> str:
    body = json.loads(create_body("order-bad"))
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body)


def _product(**changes: Any) -> str:
    body = json.loads(create_body("order-bad"))
    for key, value in changes.items():
        if value is ...:
            body["products"][0].pop(key)
        else:
            body["products"][0][key] = value
    return json.dumps(body)


BAD_REQUESTS = {
    "malformed json": ('{"partnerReference": "x", ', 400, "invalid_json"),
    "empty body": ("", 400, "invalid_json"),
    "json array": ("[1, 2]", 400, "invalid_json"),
    "json NaN": ('{"amount": NaN}', 400, "invalid_json"),
    "missing partnerReference": (_with(partnerReference=...), 400, "invalid_request"),
    "missing amount": (_with(amount=...), 400, "invalid_request"),
    "missing currencyCode": (_with(currencyCode=...), 400, "invalid_request"),
    "missing countryCode": (_with(countryCode=...), 400, "invalid_request"),
    "missing products": (_with(products=...), 400, "invalid_request"),
    "empty products": (_with(products=[]), 400, "invalid_request"),
    "amount as text": (_with(amount="lots"), 400, "invalid_request"),
    "amount boolean": (_with(amount=True), 400, "invalid_request"),
    "amount negative": (_with(amount=-5), 400, "invalid_request"),
    "amount too precise": (_with(amount="250.505"), 400, "invalid_request"),
    "partnerReference number": (_with(partnerReference=12), 400, "invalid_request"),
    "partnerReference with slash": (_with(partnerReference="a/b"), 400, "invalid_request"),
    "partnerReference too long": (_with(partnerReference="x" * 65), 400, "invalid_request"),
    "country not ISO": (_with(countryCode="ZAF"), 400, "invalid_request"),
    "currency not ISO": (_with(currencyCode="RAND"), 400, "invalid_request"),
    "products not a list": (_with(products={"sku": SKU}), 400, "invalid_request"),
    "product not an object": (_with(products=["GEM"]), 400, "invalid_request"),
    "quantity as text": (_product(quantity="1"), 400, "invalid_request"),
    "quantity zero": (_product(quantity=0), 400, "invalid_request"),
    "quantity fractional": (_product(quantity=1.5), 400, "invalid_request"),
    "product without sku": (_product(sku=...), 400, "invalid_request"),
    "product currency differs": (_product(currencyCode="USD"), 400, "invalid_request"),
    "metadata not a list": (_with(metadata="p-42"), 400, "invalid_request"),
    "metadata value number": (_with(metadata=[{"key": "k", "value": 1}]), 400, "invalid_request"),
    "channelId object": (_with(channelId={"id": 1}), 400, "invalid_request"),
    "unknown field": (_with(callbackSuccessUrl="https://evil.example"), 400, "invalid_request"),
    "oversized body": (_with(metadata=[{"key": "k", "value": "v" * 400}] * 100), 413, "payload_too_large"),
    # Quantities beyond any basket (10**38 used to reach DynamoDB and fail there as a 500)
    "quantity above the cap": (_product(quantity=1_000_001), 400, "invalid_request"),
    "quantity 10**30": (_product(quantity=10**30), 400, "invalid_request"),
    "quantity 10**38": (_product(quantity=10**38), 400, "invalid_request"),
    # Money strings Python's Decimal takes but nobody writes money as
    "amount with underscores": (_with(amount="1_000"), 400, "invalid_request"),
    "amount in full-width digits": (_with(amount="\uff11\uff12"), 400, "invalid_request"),
    "amount with spaces": (_with(amount=" 12 "), 400, "invalid_request"),
    "amount with an exponent": (_with(amount="1e2"), 400, "invalid_request"),
    "amount with a plus sign": (_with(amount="+12"), 400, "invalid_request"),
    "amount as a negative string": (_with(amount="-12"), 400, "invalid_request"),
    "amount Infinity string": (_with(amount="Infinity"), 400, "invalid_request"),
    "price with underscores": (_product(price="2_50.50"), 400, "invalid_request"),
    # Lone UTF-16 surrogates (valid JSON escapes, not encodable as UTF-8: DynamoDB cannot store them)
    "title with a lone surrogate": (_product(title="a\ud800"), 400, "invalid_request"),
    "sku with a lone surrogate": (_product(sku="GEM\udfff"), 400, "invalid_request"),
    "metadata with a lone surrogate": (
        _with(metadata=[{"key": "k", "value": "\udfff"}]),
        400,
        "invalid_request",
    ),
    "channelId with a lone surrogate": (_with(channelId="\ud800"), 400, "invalid_request"),
}


@pytest.mark.parametrize(("body", "status", "code"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_bad_input_is_a_4xx_with_code_and_message(aws, lambda_context, http_event, body, status, code):
    # No sandbox: a rejected request must never reach the gateway (it would fail with 502 if it tried)
    result = create(http_event, lambda_context, body)

    assert (result.status, result.code) == (status, code), result.body
    assert isinstance(result.body["message"], str) and result.body["message"]
    assert _item(aws, "order-bad") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_product(quantity="1"), "products.quantity"),
        (_product(quantity=10**38), "products.quantity"),
        (_with(amount="1_000"), "amount"),
        (_product(price="\uff11\uff12"), "products.price"),
        (_product(title="a\ud800"), "products.title"),
        (_with(metadata=[{"key": "k\ud800", "value": "v"}]), "metadata.key"),
    ],
)
def test_the_error_names_the_offending_field(aws, lambda_context, http_event, body, field):
    result = create(http_event, lambda_context, body)
    assert result.status == 400 and result.body["message"].startswith(f"{field}:")


def test_the_largest_quantity_and_money_as_plain_decimal_strings_are_accepted():
    from pay1st_partner.payments.create import MAX_QUANTITY, parse_create_request

    body = json.loads(create_body("order-strings", amount="0"))
    body["amount"] = "250000000.00"
    body["products"][0].update(price="250.00", quantity=MAX_QUANTITY)
    command = parse_create_request(body)
    assert command.amount == Decimal("250000000.00") and command.products[0].quantity == 1_000_000


def test_a_base64_encoded_body_is_accepted(aws, sandbox, lambda_context, http_event):
    result = create(http_event, lambda_context, create_body("order-b64").encode())  # bytes → base64 event
    assert result.status == 201


def test_invalid_base64_is_400(aws, lambda_context, http_event):
    from functions.create_payment import app

    event = http_event("POST", "/payments", body="x")
    event["isBase64Encoded"] = True
    event["body"] = "***not base64***"
    result = app.lambda_handler(event, lambda_context)
    assert result["statusCode"] == 400


def test_an_unexpected_failure_is_a_500_without_details(
    aws, sandbox, lambda_context, http_event, monkeypatch
):
    # Given the table is gone (a deployment fault)
    aws.dynamodb.delete_table(TableName="PaymentsTable")

    result = create(http_event, lambda_context, create_body("order-500"))

    assert result.status == 500
    assert result.body == {"code": "internal_error", "message": "Internal error."}


def test_never_a_500_for_garbage(aws, lambda_context, http_event):
    for garbage in (b"\xff\xfe\x00", "null", "true", '"text"', "{}", '{"products": null}'):
        result = create(http_event, lambda_context, garbage)
        assert 400 <= result.status < 500, (garbage, result.body)
