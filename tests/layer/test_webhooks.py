"""§10 webhook verification: one test per failure mode, plus the happy paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pay1st.errors import SignatureVerificationError
from pay1st.signing import sign
from pay1st.webhooks import has_signature_headers, verify_webhook

KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"
BODY = b'{"partnerReference":"order-1001","reference":"C-1-P","status":"SUCCESSFUL","orderAmount":250.50}'
SENT_AT = "2026-01-15T10:30:00.000Z"
NOW = datetime(2026, 1, 15, 10, 31, tzinfo=UTC)


def signed_headers(body: bytes = BODY, timestamp: str = SENT_AT, key: str = KEY) -> dict[str, str]:
    return {"x-signature": sign(key, timestamp, body), "x-timestamp": timestamp}


def reason_of(body: bytes, headers: dict[str, str], *, now: datetime = NOW, tolerance: float = 300) -> str:
    with pytest.raises(SignatureVerificationError) as caught:
        verify_webhook(body, headers, KEY, tolerance_seconds=tolerance, now=now)
    return caught.value.reason


def test_valid_webhook_returns_its_timestamp() -> None:
    assert verify_webhook(BODY, signed_headers(), KEY, now=NOW) == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def test_header_names_are_case_insensitive_and_hex_case_is_ignored() -> None:
    headers = signed_headers()
    mixed = {"X-Signature": headers["x-signature"].upper(), "X-TIMESTAMP": headers["x-timestamp"]}
    assert verify_webhook(BODY, mixed, KEY, now=NOW)


def test_missing_signature_header() -> None:
    assert reason_of(BODY, {"x-timestamp": SENT_AT}) == "missing_header"


def test_missing_timestamp_header() -> None:
    headers = signed_headers()
    del headers["x-timestamp"]
    assert reason_of(BODY, headers) == "missing_header"


def test_malformed_timestamp() -> None:
    assert reason_of(BODY, signed_headers(timestamp="15/01/2026 10:30")) == "malformed_timestamp"


def test_timestamp_without_zone_is_malformed() -> None:
    assert reason_of(BODY, signed_headers(timestamp="2026-01-15T10:30:00")) == "malformed_timestamp"


def test_bad_signature_for_a_tampered_body() -> None:
    assert reason_of(BODY.replace(b"250.50", b"2.50"), signed_headers()) == "bad_signature"


def test_bad_signature_for_the_wrong_key() -> None:
    assert reason_of(BODY, signed_headers(key="another-key")) == "bad_signature"


def test_bad_signature_when_the_timestamp_was_changed() -> None:
    headers = signed_headers()
    headers["x-timestamp"] = "2026-01-15T10:30:01.000Z"
    assert reason_of(BODY, headers) == "bad_signature"


def test_garbage_signature_is_a_bad_signature_not_a_crash() -> None:
    assert reason_of(BODY, {"x-signature": "zz\u00e9\u2713", "x-timestamp": SENT_AT}) == "bad_signature"


def test_timestamp_too_old() -> None:
    assert reason_of(BODY, signed_headers(), now=NOW + timedelta(minutes=10)) == "timestamp_too_old"


def test_timestamp_in_the_future() -> None:
    assert reason_of(BODY, signed_headers(), now=NOW - timedelta(minutes=10)) == "timestamp_in_future"


def test_tolerance_is_inclusive_and_configurable() -> None:
    sent = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    assert verify_webhook(BODY, signed_headers(), KEY, now=sent + timedelta(seconds=300))
    assert verify_webhook(BODY, signed_headers(), KEY, now=sent - timedelta(seconds=300))
    assert (
        reason_of(BODY, signed_headers(), now=sent + timedelta(seconds=31), tolerance=30)
        == "timestamp_too_old"
    )


def test_signature_is_checked_before_the_window() -> None:
    # A forged message is reported as forged even when its timestamp is also out of range.
    assert reason_of(BODY, signed_headers(key="x"), now=NOW + timedelta(days=1)) == "bad_signature"


def test_error_messages_never_show_the_signature() -> None:
    headers = signed_headers(key="other")
    with pytest.raises(SignatureVerificationError) as caught:
        verify_webhook(BODY, headers, KEY, now=NOW)
    expected = sign(KEY, SENT_AT, BODY)
    for text in (str(caught.value), repr(caught.value)):
        assert headers["x-signature"] not in text and expected not in text and KEY not in text


def test_has_signature_headers() -> None:
    assert has_signature_headers({"X-Signature": "a"})
    assert has_signature_headers({"x-timestamp": "b"})
    assert not has_signature_headers({"content-type": "application/json"})
