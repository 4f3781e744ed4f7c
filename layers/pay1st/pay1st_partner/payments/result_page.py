"""Signed result-page parameters: how the callback redirect signs them, and how your result page checks them.

Standard library only, no other import from this bundle: copy this file into the backend of your result page
(it is also ``pay1st_partner_client.result_page``) and call :func:`verify_result_params` on the query string
the customer's browser brought. A customer who edits the URL (``status=SUCCESSFUL``) or keeps an old one
past its expiry gets ``None``: show "we are checking your payment" and ask your backend, never "paid".

The algorithm (version 1), for a result page written in another language:

- **key**: the credentials secret's ``callbackKey`` (its UTF-8 bytes) when set; otherwise derived from the
  Signing Key: ``HMAC-SHA256(key = UTF-8 signingKey, message = b"pay1st-partner callback key v1")`` (the 32
  raw bytes). Rotating the Signing Key then changes it too; set ``callbackKey`` to keep them apart.
- **fields**: those of ``partnerReference``, ``status``, ``outcome``, ``error``, ``expires`` present in the
  query (any other parameter, such as your page's own, is not signed and must not be trusted).
- **message**: ``b"pay1st-result-v1?" + urlencode(sorted(fields.items()))`` (form encoding, keys sorted).
- **sig**: lowercase hex ``HMAC-SHA256(key, message)``; valid when it equals the query's ``sig`` (compare in
  constant time) and ``expires`` (Unix seconds) is not in the past.

The same key also makes the callback token the bundle puts into each callback URL it sends Pay1st
(:func:`callback_token`), so a callback URL cannot be forged for a reference without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

__all__ = [
    "CALLBACK_KEY_SECRET_FIELD",
    "SIGNED_FIELDS",
    "callback_key",
    "callback_token",
    "derive_callback_key",
    "sign_result_params",
    "verify_callback_token",
    "verify_result_params",
]

CALLBACK_KEY_SECRET_FIELD = "callbackKey"  # noqa: S105 - the name of a JSON key
SIGNED_FIELDS = ("partnerReference", "status", "outcome", "error", "expires")
_DERIVATION_LABEL = b"pay1st-partner callback key v1"
_RESULT_PREFIX = b"pay1st-result-v1?"
_TOKEN_PREFIX = b"pay1st-callback-v1\n"
MIN_DEDICATED_KEY_LENGTH = 32


def derive_callback_key(signing_key: str) -> bytes:
    """The callback key when the secret has no ``callbackKey``: derived from the Signing Key (one way)."""
    return hmac.new(signing_key.encode("utf-8"), _DERIVATION_LABEL, hashlib.sha256).digest()


def callback_key(dedicated: str | None, signing_key: str) -> bytes:
    """The secret's ``callbackKey`` when set (at least 32 characters), else one derived from the Signing Key."""
    if dedicated is None:
        return derive_callback_key(signing_key)
    if len(dedicated) < MIN_DEDICATED_KEY_LENGTH:
        raise ValueError(
            f"{CALLBACK_KEY_SECRET_FIELD} must be at least {MIN_DEDICATED_KEY_LENGTH} characters"
        )
    return dedicated.encode("utf-8")


def callback_token(key: bytes, partner_reference: str) -> str:
    """The token of a callback URL: unpadded base64url of HMAC-SHA256(key, prefix + partnerReference)."""
    digest = hmac.new(key, _TOKEN_PREFIX + partner_reference.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_callback_token(key: bytes, partner_reference: str, token: str | None) -> bool:
    """Whether ``token`` is the callback token of ``partner_reference`` (constant-time compare)."""
    if not token:
        return False
    return hmac.compare_digest(callback_token(key, partner_reference).encode("ascii"), token.encode("utf-8"))


def _signature(key: bytes, fields: Mapping[str, str]) -> str:
    message = _RESULT_PREFIX + urlencode(sorted(fields.items())).encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_result_params(key: bytes, params: Mapping[str, str], *, expires: int) -> dict[str, str]:
    """``params`` (only names of ``SIGNED_FIELDS``) plus ``expires`` and their ``sig``."""
    fields = {**params, "expires": str(expires)}
    unknown = set(fields) - set(SIGNED_FIELDS)
    if unknown:
        raise ValueError(f"not signable result fields: {sorted(unknown)}")
    return {**fields, "sig": _signature(key, fields)}


def verify_result_params(
    key: bytes, query: Mapping[str, str], *, now: float | None = None
) -> dict[str, str] | None:
    """The signed fields of a result-page query when its ``sig`` is valid and not expired, else ``None``.

    ``query`` maps each parameter to its (single) value, e.g. ``dict(urllib.parse.parse_qsl(query_string))``.
    """
    signature = query.get("sig")
    fields = {name: query[name] for name in SIGNED_FIELDS if name in query}
    if not signature or "expires" not in fields:
        return None
    expected = _signature(key, fields)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        return None
    try:
        expires = int(fields["expires"])
    except ValueError:
        return None
    if expires < (time.time() if now is None else now):
        return None
    return fields
