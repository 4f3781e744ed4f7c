"""Request signing (contract §4): HMAC-SHA256, Signing Key as key, over ``timestamp + body``."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

__all__ = ["format_timestamp", "parse_timestamp", "sign"]


def sign(signing_key: str, timestamp: str, body: bytes | str) -> str:
    """Return the lowercase hex ``X-SIGNATURE`` for ``timestamp`` and the exact wire ``body``.

    Pass the bytes that go on the wire: a ``str`` body is encoded as UTF-8, nothing is re-serialized.
    """
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return hmac.new(
        signing_key.encode("utf-8"), timestamp.encode("utf-8") + payload, hashlib.sha256
    ).hexdigest()


def format_timestamp(dt: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2026-01-15T10:30:00.000Z`` (the ``X-TIMESTAMP``).

    A naive datetime is rejected: the caller must say which zone it means.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_timestamp needs a timezone-aware datetime")
    utc = dt.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp with an explicit zone (``Z`` or an offset) into an aware UTC datetime.

    Raises ``ValueError`` for anything else (including a timestamp without a zone).
    """
    text = value.strip()
    if not text or len(text) > 64:
        raise ValueError("not an ISO-8601 timestamp")
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("timestamp has no timezone")
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-05:00: valid ISO, but no UTC datetime exists
        raise ValueError("timestamp out of range") from None
