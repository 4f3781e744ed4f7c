"""Re-sign a sample webhook event with a fresh timestamp, as the gateway would sign it (contract §4, §10).

Deliberately a few lines of stdlib rather than the layer's ``pay1st.signing``: the runner is tooling and
never imports the code it runs, and a second implementation is a check on the first.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any


def timestamp(now: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and Z, e.g. ``2026-01-15T10:30:00.000Z``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def signature(signing_key: str, stamp: str, body: bytes) -> str:
    return hmac.new(signing_key.encode("utf-8"), stamp.encode("utf-8") + body, hashlib.sha256).hexdigest()


def sign_event(event: dict[str, Any], signing_key: str, now: datetime | None = None) -> dict[str, Any]:
    """A copy of an HTTP API event whose X-TIMESTAMP is now and X-SIGNATURE matches its body."""
    signed = copy.deepcopy(event)
    raw = signed.get("body") or ""
    body = base64.b64decode(raw) if signed.get("isBase64Encoded") else raw.encode("utf-8")
    headers = {
        k: v
        for k, v in (signed.get("headers") or {}).items()
        if k.lower() not in ("x-signature", "x-timestamp")
    }
    stamp = timestamp(now)
    headers["x-timestamp"] = stamp
    headers["x-signature"] = signature(signing_key, stamp, body)
    signed["headers"] = headers
    return signed
