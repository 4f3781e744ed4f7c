"""The gateway's side of request signing (contract §4), written from the contract, not from the layer.

X-SIGNATURE is lowercase hex HMAC-SHA256, keyed with the Signing Key, over the UTF-8 bytes of
``timestamp + body`` where body is the exact byte string on the wire. Webhooks may instead use the §10
``basic-auth`` scheme: keyed with the ASCII text base64(username:password), over the body trimmed of
surrounding whitespace, with no timestamp.

Upper-case hex (decision, shared with the partner layer's ``pay1st.webhooks``): on the WEBHOOK path the
partner accepts either case, so the sandbox can send upper-case (``hexCase``) to prove it; on the requests
the sandbox receives it stays as strict as the contract (lowercase only), a check the partner's client
always passes because it only ever emits lowercase.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime

# ISO-8601 date-time with an explicit UTC designator or offset; fractions of a second optional.
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$",
)


def sign(signing_key: str, timestamp: str, body: bytes) -> str:
    return hmac.new(signing_key.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).hexdigest()


def basic_auth_sign(username: str, password: str, body: bytes) -> str:
    """§10 basic-auth: HMAC-SHA256 keyed with the base64 *text* of ``username:password``, over the trimmed body."""
    key = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return hmac.new(key.encode("ascii"), body.strip(b" \t\r\n\x0b\x0c"), hashlib.sha256).hexdigest()


def signature_matches(signing_key: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Constant-time check; the contract's signatures are lowercase hex, so only that form matches."""
    return hmac.compare_digest(
        sign(signing_key, timestamp, body).encode(), signature.encode("utf-8", "replace")
    )


def parse_timestamp(text: str) -> datetime | None:
    """The instant an ``X-TIMESTAMP`` names, or None when it is not ISO-8601 with a zone."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        return None
    date, clock, fraction, zone = match.groups()
    # fromisoformat takes at most microseconds; nanoseconds are truncated, never rounded up.
    micros = f".{(fraction or '0')[:6]:0<6}"
    try:
        return datetime.fromisoformat(f"{date}T{clock}{micros}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def format_timestamp(epoch_seconds: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, the form of the contract's first vector."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
