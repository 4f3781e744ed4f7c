"""Webhook signature verification (contract §10): verify the raw bytes before anything parses them."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from pay1st.errors import SignatureVerificationError
from pay1st.signing import parse_timestamp, sign

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "has_signature_headers", "verify_webhook"]

SIGNATURE_HEADER = "x-signature"
TIMESTAMP_HEADER = "x-timestamp"


def _header(headers: Mapping[str, str], name: str) -> str | None:
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
    return _header(headers, SIGNATURE_HEADER) is not None or _header(headers, TIMESTAMP_HEADER) is not None


def verify_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    signing_key: str,
    *,
    tolerance_seconds: float = 300,
    now: datetime | None = None,
) -> datetime:
    """Verify ``X-SIGNATURE`` over ``X-TIMESTAMP + raw_body`` and the timestamp's distance from ``now``.

    Returns the verified timestamp (aware, UTC). Raises :class:`SignatureVerificationError` whose
    ``reason`` is one of missing_header, malformed_timestamp, bad_signature, timestamp_too_old,
    timestamp_in_future. The signature is checked before the timestamp window (so a window failure is
    only ever reported for an authentic message), with a constant-time comparison.
    """
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
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

    expected = sign(signing_key, timestamp, raw_body).encode("ascii")
    provided = signature.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, provided):
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
