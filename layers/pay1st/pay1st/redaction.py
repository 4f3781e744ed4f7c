"""Scrubbing our secrets out of gateway error bodies, in one place.

The gateway's error bodies end up in exception messages (``errorMessage``), and a careless gateway or
proxy may echo the request back: the AccessToken, the signature, the body. Every body that becomes an
error passes through :func:`scrub` first, with the credentials' secrets and the tokens of the call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "scrub"]

REDACTED = b"[redacted]"
# Anything shaped like an X-SIGNATURE (64 hex digits) is redacted too: signatures are per request.
_SIGNATURE_LIKE = re.compile(rb"[0-9a-fA-F]{64}")
# Shorter values would redact ordinary text without protecting anything.
_MIN_SECRET_LENGTH = 4


def scrub(body: bytes, secrets: Iterable[str]) -> bytes:
    """``body`` with every occurrence of each secret, and anything signature-shaped, replaced."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LENGTH:
            body = body.replace(secret.encode(), REDACTED)
    return _SIGNATURE_LIKE.sub(REDACTED, body)
