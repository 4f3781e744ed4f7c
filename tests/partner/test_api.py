"""pay1st_partner.api: one place mapping errors to {code, message}; body parsing with limits."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pay1st.errors import ValidationError
from pay1st_partner.api import json_body, make_resolver, response
from pay1st_partner.errors import (
    CreateOutcomeUnknown,
    GatewayUnavailable,
    InvalidRequest,
    NotRecorded,
    PayloadTooLarge,
    PaymentConflict,
    PaymentNotFound,
    WebhookRejected,
)
from pay1st_partner.request_fields import parse_json_object

from tests.conftest import FakeLambdaContext, build_http_event


def _app_raising(exc: BaseException):
    app = make_resolver()

    @app.post("/boom")
    def boom():
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (InvalidRequest("amount: bad"), 400, "invalid_request"),
        (PaymentNotFound(), 404, "payment_not_found"),
        (PaymentConflict("busy", code="create_in_progress"), 409, "create_in_progress"),
        (PayloadTooLarge(), 413, "payload_too_large"),
        (WebhookRejected("stale_timestamp"), 401, "stale_timestamp"),
        (NotRecorded(), 503, "not_recorded"),
        (GatewayUnavailable(), 502, "gateway_unavailable"),
        (CreateOutcomeUnknown(), 502, "create_outcome_unknown"),
        (ValidationError("countryCode", "must be ISO"), 400, "invalid_request"),
        (RuntimeError("secret-ish detail"), 500, "internal_error"),
    ],
)
def test_errors_map_to_status_and_stable_code(exc, status, code):
    app = _app_raising(exc)
    result = app.resolve(build_http_event("POST", "/boom", body="{}"), FakeLambdaContext())
    body = json.loads(result["body"])
    assert result["statusCode"] == status
    assert body["code"] == code
    assert set(body) == {"code", "message"}
    assert "Traceback" not in result["body"]
    assert "secret-ish" not in result["body"]


def test_validation_errors_name_the_field():
    app = _app_raising(ValidationError("products.quantity", "must be an integer"))
    result = app.resolve(build_http_event("POST", "/boom", body="{}"), FakeLambdaContext())
    assert "products.quantity" in json.loads(result["body"])["message"]


def test_an_unknown_route_is_404_json():
    app = make_resolver()
    result = app.resolve(build_http_event("GET", "/nowhere"), FakeLambdaContext())
    assert result["statusCode"] == 404
    assert json.loads(result["body"])["code"] == "not_found"


def test_parses_json_with_exact_decimals():
    assert parse_json_object(b'{"amount": 250.50}') == {"amount": Decimal("250.50")}


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"1", b'{"a": NaN}', b'{"a": Infinity}', b"\xff"])
def test_rejects_what_is_not_a_json_object(raw):
    with pytest.raises(InvalidRequest) as caught:
        parse_json_object(raw)
    assert caught.value.code == "invalid_json"


def test_json_body_enforces_the_size_limit_on_the_decoded_bytes():
    app = make_resolver()
    seen = {}

    @app.post("/x")
    def handler():
        seen["body"] = json_body(app, max_bytes=16)
        return response(200, {})

    ok = app.resolve(build_http_event("POST", "/x", body=b'{"a": 1}'), FakeLambdaContext())
    assert ok["statusCode"] == 200
    assert seen["body"] == {"a": 1}
    big = app.resolve(
        build_http_event("POST", "/x", body=b'{"a": "' + b"x" * 64 + b'"}'), FakeLambdaContext()
    )
    assert big["statusCode"] == 413


def test_responses_are_json_and_never_cached():
    result = response(201, {"amount": Decimal("250.50")})
    assert result.status_code == 201
    assert result.headers["Cache-Control"] == "no-store"
    assert result.headers["Content-Type"] == "application/json"


def test_routes_match_method_and_one_path_segment_per_parameter():
    app = make_resolver()

    @app.get("/payments/<partnerReference>")
    def show(partnerReference):
        return response(200, {"ref": partnerReference, "amount": Decimal("250.50")})

    ok = app.resolve(build_http_event("GET", "/payments/ord-1.a_b~c"), FakeLambdaContext())
    assert ok["statusCode"] == 200
    assert json.loads(ok["body"]) == {"ref": "ord-1.a_b~c", "amount": "250.50"}  # money as a string
    assert ok["headers"]["Cache-Control"] == "no-store"
    assert ok["isBase64Encoded"] is False
    for method, path in (("POST", "/payments/ord-1"), ("GET", "/payments/a/b"), ("GET", "/payments/")):
        missed = app.resolve(build_http_event(method, path), FakeLambdaContext())
        assert missed["statusCode"] == 404, (method, path)
        assert json.loads(missed["body"]) == {"code": "not_found", "message": "No such route."}


def test_a_named_stage_is_not_part_of_the_route_path():
    app = make_resolver()

    @app.get("/ping")
    def ping():
        headers = app.current_event.headers
        return response(200, {"ua": headers["User-Agent"], "missing": headers.get("X-Nope")})

    event = build_http_event("GET", "/ping", stage="live")
    event["rawPath"] = "/live/ping"
    result = app.resolve(event, FakeLambdaContext())
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"ua": "pytest", "missing": None}  # headers found whatever the case


def test_the_request_is_forgotten_after_each_resolve():
    app = make_resolver()

    @app.get("/ping")
    def ping():
        return response(200, {"remaining": app.lambda_context.get_remaining_time_in_millis() > 0})

    assert json.loads(app.resolve(build_http_event("GET", "/ping"), FakeLambdaContext())["body"]) == {
        "remaining": True
    }
    with pytest.raises(RuntimeError):
        app.current_event  # noqa: B018 - the property raises outside a request
