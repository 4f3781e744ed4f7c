"""Webhook signature verification (contract §10): verify the raw bytes before anything parses them.

Two schemes, both lowercase hex HMAC-SHA256 in ``X-SIGNATURE``:

- ``signing-key`` (:func:`verify_webhook`): keyed with the Signing Key over ``X-TIMESTAMP + raw body``,
  the timestamp within a tolerance both ways;
- ``basic-auth`` (:func:`verify_basic_auth`, :func:`basic_auth_signature`): keyed with the ASCII text
  ``base64(username:password)`` over the raw body trimmed of leading and trailing whitespace; no timestamp.

**Upper-case hex is accepted** on webhooks, both schemes (decision): the contract says lowercase, but a
gateway written in Java commonly emits upper-case hex (``printHexBinary``), and refusing it would refuse
every real webhook while adding no security - the MAC is the same 256 bits either way. The sandbox agrees:
it can sign its webhooks in upper-case (``POST /_sandbox/webhooks/signing {"hexCase": "upper"}``) and the
tests show them accepted. We always *emit* lowercase, which the sandbox, strict as the contract on what it
receives, requires. Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pay1st.errors import SignatureVerificationError
from pay1st.signing import parse_timestamp, sign

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "basic_auth_signature",
    "has_signature_headers",
    "header",
    "trim_body",
    "verify_basic_auth",
    "verify_webhook",
]

SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (lowercase), whatever the case of the names in ``headers``."""
    # Header names are case-insensitive (API Gateway v2 lowercases them; other callers may not).
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def has_signature_headers(headers: Mapping[str, str]) -> bool:
    """True when the request carries ``X-SIGNATURE`` or ``X-TIMESTAMP``.

    Either one is enough: a request carrying only one of them goes on to :func:`verify_webhook` and fails
    there with ``missing_header`` rather than slipping through as "unsigned".
    """
    return header(headers, SIGNATURE_HEADER) is not None or header(headers, TIMESTAMP_HEADER) is not None


def trim_body(body: bytes | str) -> bytes:
    """The body as the ``basic-auth`` scheme signs it: UTF-8 bytes without leading/trailing whitespace.

    Whitespace is ASCII space, tab, CR, LF, vertical tab and form feed (what JSON writers put around a
    document); whitespace inside the body is kept, so changing it changes the signature.
    """
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return payload.strip(b" \t\r\n\x0b\x0c")


def basic_auth_signature(username: str, password: str, body: bytes | str) -> str:
    """The §10 ``basic-auth`` ``X-SIGNATURE``: lowercase hex HMAC-SHA256 of the trimmed body.

    The HMAC key is the ASCII *text* ``base64(username:password)`` (as in a Basic Authorization header),
    not the bytes it decodes to.
    """
    key = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return hmac.new(key.encode("ascii"), trim_body(body), hashlib.sha256).hexdigest()


def _matches_any(provided: str, expected: Sequence[str]) -> bool:
    """Constant-time comparison against every expected signature (upper-case hex accepted)."""
    given = provided.strip().lower().encode("utf-8", "replace")
    matched = False
    for candidate in expected:  # no early exit: every candidate is compared
        matched |= hmac.compare_digest(candidate.encode("ascii"), given)
    return matched


def verify_basic_auth(
    raw_body: bytes, headers: Mapping[str, str], credentials: Sequence[tuple[str, str]]
) -> None:
    """Verify a ``basic-auth`` ``X-SIGNATURE`` against each (username, password) in ``credentials``.

    Raises :class:`SignatureVerificationError` with reason missing_header or bad_signature.
    """
    signature = header(headers, SIGNATURE_HEADER)
    if not signature:
        raise SignatureVerificationError(
            SignatureVerificationError.MISSING_HEADER, "missing X-SIGNATURE header"
        )
    expected = [basic_auth_signature(username, password, raw_body) for username, password in credentials]
    if not _matches_any(signature, expected):
        raise SignatureVerificationError(SignatureVerificationError.BAD_SIGNATURE, "signature does not match")


def verify_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    signing_key: str | Sequence[str],
    *,
    tolerance_seconds: float = 300,
    now: datetime | None = None,
) -> datetime:
    """Verify ``X-SIGNATURE`` over ``X-TIMESTAMP + raw_body`` and the timestamp's distance from ``now``.

    ``signing_key`` may be several keys (the current one and previous ones still accepted): any may match.

    Returns the verified timestamp (aware, UTC). Raises :class:`SignatureVerificationError` whose
    ``reason`` is one of missing_header, malformed_timestamp, bad_signature, timestamp_too_old,
    timestamp_in_future. The signature is checked before the timestamp window (so a window failure is
    only ever reported for an authentic message), with a constant-time comparison.
    """
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        missing = "X-SIGNATURE" if not signature else "X-TIMESTAMP"
        raise SignatureVerificationError(
            SignatureVerificationError.MISSING_HEADER, f"missing {missing} header"
        )
    try:
        signed_at = parse_timestamp(timestamp)
    except ValueError:
        raise SignatureVerificationError(
            SignatureVerificationError.MALFORMED_TIMESTAMP, "X-TIMESTAMP is not an ISO-8601 UTC timestamp"
        ) from None

    keys = [signing_key] if isinstance(signing_key, str) else list(signing_key)
    if not _matches_any(signature, [sign(key, timestamp, raw_body) for key in keys]):
        raise SignatureVerificationError(SignatureVerificationError.BAD_SIGNATURE, "signature does not match")

    current = now if now is not None else datetime.now(UTC)
    if current.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    age = (current - signed_at).total_seconds()
    if age > tolerance_seconds:
        raise SignatureVerificationError(
            SignatureVerificationError.TIMESTAMP_TOO_OLD,
            f"timestamp is {age:.0f}s old (tolerance {tolerance_seconds:g}s)",
        )
    if -age > tolerance_seconds:
        raise SignatureVerificationError(
            SignatureVerificationError.TIMESTAMP_IN_FUTURE,
            f"timestamp is {-age:.0f}s in the future (tolerance {tolerance_seconds:g}s)",
        )
    return signed_at
