"""§10 basic-auth scheme, several keys, upper-case hex, and the webhook credentials in the secret."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pay1st.errors import ConfigurationError, SignatureVerificationError
from pay1st.signing import sign
from pay1st.webhook_credentials import webhook_credentials_from
from pay1st.webhooks import basic_auth_signature, trim_body, verify_basic_auth, verify_webhook

# The contract's basic-auth vector (pay1st-gateway.md §10).
USERNAME, PASSWORD = "partner-webhooks", "s3cr3t-Pa55"
VECTOR_KEY_TEXT = "cGFydG5lci13ZWJob29rczpzM2NyM3QtUGE1NQ=="
VECTOR_BODY = (
    b'{"partnerId":9,"partnerCode":"GEMS","partnerReference":"order-1001","reference":"C-113976984708914-P",'
    b'"orderAmount":250.50,"currencyCode":"ZAR","countryCode":"ZA","status":"SUCCESSFUL"}'
)
VECTOR_SIGNATURE = "ef8b622d6c88a4f0c4d54468a14bf3f8e0c43aaad3278be815af73109781dc95"
NOW = datetime(2026, 1, 15, 10, 31, tzinfo=UTC)


def test_the_contract_vector() -> None:
    assert basic_auth_signature(USERNAME, PASSWORD, VECTOR_BODY) == VECTOR_SIGNATURE
    assert basic_auth_signature(USERNAME, PASSWORD, VECTOR_BODY.decode()) == VECTOR_SIGNATURE
    # The tests' own HMAC agrees: the key is the base64 TEXT, not the bytes it decodes to.
    own = hmac.new(VECTOR_KEY_TEXT.encode("ascii"), VECTOR_BODY, hashlib.sha256).hexdigest()
    assert own == VECTOR_SIGNATURE


@pytest.mark.parametrize("padding", [(b"\n", b""), (b"  ", b"\n  "), (b"\r\n\t", b" \r\n"), (b"", b"\x0c")])
def test_surrounding_whitespace_is_trimmed_first(padding: tuple[bytes, bytes]) -> None:
    body = padding[0] + VECTOR_BODY + padding[1]
    assert basic_auth_signature(USERNAME, PASSWORD, body) == VECTOR_SIGNATURE
    verify_basic_auth(body, {"X-Signature": VECTOR_SIGNATURE}, [(USERNAME, PASSWORD)])
    assert trim_body(body) == VECTOR_BODY


@pytest.mark.parametrize(
    "body",
    [
        VECTOR_BODY.replace(b'"status"', b' "status"'),  # whitespace inside is signed
        VECTOR_BODY.replace(b"250.50", b"250.5"),  # tampered
        b"\xc2\xa0" + VECTOR_BODY,  # a non-ASCII space is not trimmed
        VECTOR_BODY + b"\x00",
    ],
)
def test_whitespace_games_and_tampering_do_not_verify(body: bytes) -> None:
    with pytest.raises(SignatureVerificationError) as caught:
        verify_basic_auth(body, {"x-signature": VECTOR_SIGNATURE}, [(USERNAME, PASSWORD)])
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("credentials", "headers", "reason"),
    [
        ([(USERNAME, PASSWORD)], {}, "missing_header"),
        ([(USERNAME, PASSWORD)], {"x-signature": ""}, "missing_header"),
        ([(USERNAME, "wrong")], {"x-signature": VECTOR_SIGNATURE}, "bad_signature"),
        ([(USERNAME + "x", PASSWORD)], {"x-signature": VECTOR_SIGNATURE}, "bad_signature"),
        ([], {"x-signature": VECTOR_SIGNATURE}, "bad_signature"),
        # The signing-key scheme's signature of the same body is not a basic-auth one.
        ([(USERNAME, PASSWORD)], {"x-signature": sign(PASSWORD, "", VECTOR_BODY)}, "bad_signature"),
        ([(USERNAME, PASSWORD)], {"x-signature": VECTOR_SIGNATURE[:-1]}, "bad_signature"),
    ],
)
def test_basic_auth_failure_modes(
    credentials: list[tuple[str, str]], headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(SignatureVerificationError) as caught:
        verify_basic_auth(VECTOR_BODY, headers, credentials)
    assert caught.value.reason == reason


def test_upper_case_hex_is_accepted_for_both_schemes() -> None:
    # Decision (pay1st.webhooks docstring): same MAC value, so accepted; the sandbox verifies alike.
    verify_basic_auth(VECTOR_BODY, {"X-SIGNATURE": VECTOR_SIGNATURE.upper()}, [(USERNAME, PASSWORD)])
    stamp = "2026-01-15T10:30:00.000Z"
    headers = {"X-SIGNATURE": sign("k", stamp, VECTOR_BODY).upper(), "X-TIMESTAMP": stamp}
    assert verify_webhook(VECTOR_BODY, headers, "k", now=NOW)


def test_any_of_several_keys_verifies() -> None:
    stamp = "2026-01-15T10:30:00.000Z"
    headers = {"x-signature": sign("old", stamp, VECTOR_BODY), "x-timestamp": stamp}
    assert verify_webhook(VECTOR_BODY, headers, ["new", "old"], now=NOW)
    with pytest.raises(SignatureVerificationError):
        verify_webhook(VECTOR_BODY, headers, ["new"], now=NOW)
    verify_basic_auth(VECTOR_BODY, {"x-signature": VECTOR_SIGNATURE}, [("a", "b"), (USERNAME, PASSWORD)])


# ----------------------------------------------------------------------------- credentials in the secret

SECRET = {
    "apiKey": "ak",
    "apiSecret": "as",
    "signingKey": "sk-current",
    "webhookUsername": "user-current",
    "webhookPassword": "pass-current",
    "previous": [
        {"signingKey": "sk-old", "acceptUntil": "2026-02-01T00:00:00Z"},
        {"webhookUsername": "user-old", "webhookPassword": "pass-old", "acceptUntil": "2026-02-01T00:00:00Z"},
    ],
}


def test_the_documented_shape_with_rotation() -> None:
    creds = webhook_credentials_from(SECRET)
    before, after = datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert creds.signing_keys_at(before) == ["sk-current", "sk-old"]
    assert creds.signing_keys_at(after) == ["sk-current"]
    assert creds.basic_auth_at(before) == [("user-current", "pass-current"), ("user-old", "pass-old")]
    assert creds.basic_auth_at(after) == [("user-current", "pass-current")]


def test_basic_auth_is_optional() -> None:
    creds = webhook_credentials_from({"signingKey": "sk"})
    assert creds.signing_keys_at(NOW) == ["sk"] and creds.basic_auth_at(NOW) == []


def test_no_repr_shows_a_secret() -> None:
    creds = webhook_credentials_from(SECRET)
    text = repr(creds) + repr(creds.signing_keys) + repr(creds.basic_auth)
    for value in creds.secret_values():
        assert value not in text


@pytest.mark.parametrize(
    "changes",
    [
        {"webhookUsername": "only-a-user", "webhookPassword": None},
        {"webhookPassword": ""},
        {"previous": "sk-old"},
        {"previous": [{"signingKey": "sk-old"}]},
        {"previous": [{"signingKey": "sk-old", "acceptUntil": "next tuesday"}]},
        {"previous": [{"signingKey": "sk-old", "acceptUntil": "2026-02-01T00:00:00"}]},  # no zone
        {"previous": [{"acceptUntil": "2026-02-01T00:00:00Z"}]},
        {"previous": [{"webhookUsername": "u-old", "acceptUntil": "2026-02-01T00:00:00Z"}]},
        {"previous": ["sk-old"]},
    ],
)
def test_malformed_webhook_credentials_name_the_key_never_a_value(changes: dict[str, object]) -> None:
    document = {**SECRET, **changes}
    document = {key: value for key, value in document.items() if value is not None}
    with pytest.raises(ConfigurationError) as caught:
        webhook_credentials_from(document)
    for secret in ("sk-old", "only-a-user", "u-old", "sk-current", "pass-current", "pass-old"):
        assert secret not in str(caught.value)


def test_previous_callback_keys_are_read_with_their_accept_until() -> None:
    from pay1st.webhook_credentials import previous_callback_key_material

    document = {
        **SECRET,
        "previous": [
            *SECRET["previous"],  # type: ignore[misc]
            {
                "callbackKey": "c" * 32,
                "acceptUntil": "2026-03-01T00:00:00Z",
            },  # alone: a callback key rotation
        ],
    }
    # Still valid webhook credentials (the callbackKey-only entry adds none)
    assert webhook_credentials_from(document).signing_keys_at(NOW) == ["sk-current", "sk-old"]
    assert previous_callback_key_material(document) == (
        (None, "sk-old", datetime(2026, 2, 1, tzinfo=UTC)),
        ("c" * 32, None, datetime(2026, 3, 1, tzinfo=UTC)),
    )
    with pytest.raises(ConfigurationError, match="callbackKey"):
        previous_callback_key_material(
            {**SECRET, "previous": [{"callbackKey": "", "acceptUntil": "2026-03-01T00:00:00Z"}]}
        )
