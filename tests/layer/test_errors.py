"""The error hierarchy and the single status → error mapping (§13)."""

from __future__ import annotations

import pickle

import pytest
from pay1st.errors import (
    AuthenticationError,
    GatewayServerError,
    InvalidRequestError,
    OutcomeUnknownError,
    Pay1stAPIError,
    Pay1stConnectionError,
    Pay1stError,
    RateLimitError,
    SignatureVerificationError,
    ValidationError,
    error_for_status,
)

BODY = b'{"errorMessage": "Invalid signature", "errorCode": "INVALID_SIGNATURE", "sessionId": "sess-123"}'


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (404, InvalidRequestError),
        (405, InvalidRequestError),
        (409, InvalidRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitError),
        (500, GatewayServerError),
        (502, GatewayServerError),
        (503, GatewayServerError),
        (504, GatewayServerError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[Pay1stAPIError]) -> None:
    error = error_for_status(status, BODY)
    assert type(error) is cls
    assert (error.status, error.error_code, error.error_message, error.session_id) == (
        status,
        "INVALID_SIGNATURE",
        "Invalid signature",
        "sess-123",
    )
    assert "sess-123" in str(error) and "INVALID_SIGNATURE" in str(error)


NESTED_TOO_DEEPLY = b"[" * 100_000  # json.loads raises RecursionError, not ValueError


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b"",
        b"[1]",
        b'"text"',
        b"\xff\xfe",
        NESTED_TOO_DEEPLY,
        b'{"errorCode": ' + NESTED_TOO_DEEPLY,
    ],
    ids=["html", "empty", "list", "string", "not-utf8", "deeply-nested", "deeply-nested-in-object"],
)
def test_non_json_bodies_are_tolerated(body: bytes) -> None:
    error = error_for_status(502, body)
    assert isinstance(error, GatewayServerError)
    assert (error.error_code, error.error_message, error.session_id) == (None, None, None)
    assert "502" in str(error)


def test_hierarchy() -> None:
    # An unknown outcome is not a connection error ("not processed"): no except order can confuse them.
    assert issubclass(OutcomeUnknownError, Pay1stError)
    assert not issubclass(OutcomeUnknownError, Pay1stConnectionError)
    assert issubclass(Pay1stConnectionError, Pay1stError)
    for cls in (InvalidRequestError, AuthenticationError, RateLimitError, GatewayServerError):
        assert issubclass(cls, Pay1stAPIError) and issubclass(cls, Pay1stError)
    assert issubclass(ValidationError, ValueError) and issubclass(ValidationError, Pay1stError)
    assert issubclass(SignatureVerificationError, Pay1stError)


def test_signature_error_reasons_are_closed() -> None:
    assert SignatureVerificationError("bad_signature").reason == "bad_signature"
    with pytest.raises(ValueError):
        SignatureVerificationError("something_else")


def test_errors_pickle() -> None:
    for error in (
        error_for_status(429, BODY),
        SignatureVerificationError("timestamp_too_old", "old"),
        ValidationError("amount", "must be positive"),
    ):
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert type(copy) is type(error) and str(copy) == str(error)


def test_outcome_unknown_carries_the_gateway_fields_and_pickles() -> None:
    error = OutcomeUnknownError("HTTP 502; outcome unknown", status=502, error_code="E", session_id="s-1")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is OutcomeUnknownError and str(copy) == str(error)
    assert (copy.status, copy.error_code, copy.session_id) == (502, "E", "s-1")
    assert OutcomeUnknownError("read timeout").status is None
