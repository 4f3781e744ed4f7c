"""POST /payments/{partnerReference}/fulfilment: records fulfilled products on a SUCCESSFUL payment, queues §12."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pay1st_partner import runtime

from tests.functions.outbound import SKU, call, create, create_body, successful_payment


def _fulfil(http_event, lambda_context, partner_reference, body):
    from functions.fulfilment import app

    path = f"/payments/{partner_reference}/fulfilment"
    event = http_event("POST", path, body=body, path_params={"partnerReference": partner_reference})
    return call(app.lambda_handler, event, lambda_context)


def _queued(aws) -> list[dict]:
    return [json.loads(m["Body"]) for m in aws.queue_messages(aws.fulfilment_queue_url)]


ITEMS = {"products": [{"sku": SKU, "quantity": 1, "fulfilmentTime": "2026-01-15T10:35:00Z"}]}


def _at(fulfilment_time: str) -> dict:
    return {"products": [{"sku": SKU, "quantity": 1, "fulfilmentTime": fulfilment_time}]}


def test_records_the_fulfilment_and_queues_the_notice(aws, sandbox, lambda_context, http_event):
    # Given a paid payment
    successful_payment(http_event, lambda_context, sandbox, "order-f1")

    # When the partner reports the products delivered
    result = _fulfil(http_event, lambda_context, "order-f1", ITEMS)

    # Then it is recorded on the payment and one message names it on the queue
    assert result.status == 202
    assert result.body == {"partnerReference": "order-f1", "fulfilmentStatus": "QUEUED"}
    fulfilment = runtime.payments().get("order-f1").fulfilment
    assert [(i["sku"], i["quantity"], i["fulfilmentStatus"]) for i in fulfilment["items"]] == [
        (SKU, 1, "FULFILLED")
    ]
    assert fulfilment["items"][0]["fulfilmentTime"].startswith("2026-01-15T10:35:00")
    assert _queued(aws) == [{"partnerReference": "order-f1"}]


def test_fulfilment_time_and_status_have_defaults(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-f2")
    result = _fulfil(http_event, lambda_context, "order-f2", {"products": [{"sku": SKU, "quantity": 1}]})
    assert result.status == 202
    item = runtime.payments().get("order-f2").fulfilment["items"][0]
    assert item["fulfilmentStatus"] == "FULFILLED"
    assert item["fulfilmentTime"]


def test_a_fulfilment_time_in_another_zone_is_recorded_in_utc(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-f3")
    soon = (datetime.now(UTC) + timedelta(hours=12)).astimezone(timezone(timedelta(hours=-5)))
    result = _fulfil(http_event, lambda_context, "order-f3", _at(soon.isoformat()))
    assert result.status == 202
    recorded = runtime.payments().get("order-f3").fulfilment["items"][0]["fulfilmentTime"]
    assert recorded.startswith(soon.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))


def test_the_same_fulfilment_again_is_accepted_idempotently(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-f3")
    assert _fulfil(http_event, lambda_context, "order-f3", ITEMS).status == 202

    again = _fulfil(http_event, lambda_context, "order-f3", ITEMS)

    assert again.status == 202
    assert again.body["fulfilmentStatus"] == "QUEUED"


def test_a_delivered_fulfilment_answers_delivered_without_queueing(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-f4")
    _fulfil(http_event, lambda_context, "order-f4", ITEMS)
    _queued(aws)
    runtime.payments().mark_fulfilment_delivered("order-f4")

    again = _fulfil(http_event, lambda_context, "order-f4", ITEMS)

    assert again.body["fulfilmentStatus"] == "DELIVERED"
    assert _queued(aws) == []


def test_a_different_fulfilment_after_one_is_recorded_is_409(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-f5")
    _fulfil(http_event, lambda_context, "order-f5", ITEMS)

    other = {"products": [{"sku": SKU, "quantity": 1, "fulfilmentStatus": "FAILED"}]}
    result = _fulfil(http_event, lambda_context, "order-f5", other)

    assert (result.status, result.code) == (409, "fulfilment_conflict")


def test_a_payment_that_is_not_successful_is_409(aws, sandbox, lambda_context, http_event):
    assert create(http_event, lambda_context, create_body("order-f6")).status == 201

    result = _fulfil(http_event, lambda_context, "order-f6", ITEMS)

    assert (result.status, result.code) == (409, "payment_not_successful")
    assert _queued(aws) == []
    assert runtime.payments().get("order-f6").fulfilment is None


@pytest.mark.parametrize("partner_reference", ["nobody", "bad%2Fref", "x" * 80])
def test_an_unknown_payment_is_404(aws, lambda_context, http_event, partner_reference):
    result = _fulfil(http_event, lambda_context, partner_reference, ITEMS)
    assert (result.status, result.code) == (404, "payment_not_found")


@pytest.mark.parametrize(
    "products",
    [
        [{"sku": "OTHER", "quantity": 1}],
        [{"sku": SKU, "quantity": 2}],
        [{"sku": SKU, "quantity": 1}, {"sku": SKU, "quantity": 1}],
    ],
    ids=["foreign sku", "more than bought", "more than bought in total"],
)
def test_only_products_of_the_payment_can_be_fulfilled(aws, sandbox, lambda_context, http_event, products):
    successful_payment(http_event, lambda_context, sandbox, "order-f7")
    result = _fulfil(http_event, lambda_context, "order-f7", {"products": products})
    assert (result.status, result.code) == (400, "invalid_request")


BAD = {
    "malformed json": ('{"products": [', 400, "invalid_json"),
    "not an object": ("[]", 400, "invalid_json"),
    "missing products": ({}, 400, "invalid_request"),
    "empty products": ({"products": []}, 400, "invalid_request"),
    "products not a list": ({"products": "GEM"}, 400, "invalid_request"),
    "item not an object": ({"products": [SKU]}, 400, "invalid_request"),
    "missing sku": ({"products": [{"quantity": 1}]}, 400, "invalid_request"),
    "quantity text": ({"products": [{"sku": SKU, "quantity": "1"}]}, 400, "invalid_request"),
    "quantity zero": ({"products": [{"sku": SKU, "quantity": 0}]}, 400, "invalid_request"),
    "time garbage": (
        {"products": [{"sku": SKU, "quantity": 1, "fulfilmentTime": "soon"}]},
        400,
        "invalid_request",
    ),
    "time naive": (
        {"products": [{"sku": SKU, "quantity": 1, "fulfilmentTime": "2026-01-15T10:35:00"}]},
        400,
        "invalid_request",
    ),
    "status number": (
        {"products": [{"sku": SKU, "quantity": 1, "fulfilmentStatus": 1}]},
        400,
        "invalid_request",
    ),
    "unknown field": (
        {"products": [{"sku": SKU, "quantity": 1}], "reference": "C-1"},
        400,
        "invalid_request",
    ),
    "oversized": ({"products": [{"sku": "x" * 90, "quantity": 1}] * 400}, 413, "payload_too_large"),
    # Times past datetime's range once converted to UTC (they used to fail in the repository as a 500)
    "time beyond year 9999 in UTC": (_at("9999-12-31T23:59:59-05:00"), 400, "invalid_request"),
    "time before year 1 in UTC": (_at("0001-01-01T00:00:00+05:00"), 400, "invalid_request"),
    "time before 2020": (_at("2019-12-31T23:59:59Z"), 400, "invalid_request"),
    "time far in the future": (_at("2999-01-01T00:00:00Z"), 400, "invalid_request"),
    "time two days ahead": (_at((datetime.now(UTC) + timedelta(days=2)).isoformat()), 400, "invalid_request"),
    # Lone UTF-16 surrogates: valid JSON escapes that DynamoDB cannot store
    "sku with a lone surrogate": (
        {"products": [{"sku": "GEM\ud800", "quantity": 1}]},
        400,
        "invalid_request",
    ),
    "status with a lone surrogate": (
        {"products": [{"sku": SKU, "quantity": 1, "fulfilmentStatus": "\udfff"}]},
        400,
        "invalid_request",
    ),
}


@pytest.mark.parametrize(("body", "status", "code"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_a_4xx_with_code_and_message(
    aws, sandbox, lambda_context, http_event, body, status, code
):
    successful_payment(http_event, lambda_context, sandbox, "order-fb")
    _queued(aws)
    result = _fulfil(
        http_event, lambda_context, "order-fb", body if isinstance(body, str) else json.dumps(body)
    )
    assert (result.status, result.code) == (status, code), result.body
    assert result.body["message"]
    assert runtime.payments().get("order-fb").fulfilment is None
    assert _queued(aws) == []
