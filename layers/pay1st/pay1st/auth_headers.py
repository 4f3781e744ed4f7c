"""The headers of one attempt, from the operation's row: content types, authentication, signature.

§2/§3 (``Auth.BASIC``): ``Authorization: Basic base64(key:secret)``. Everything else (§5): the
``AccessToken: Bearer <token>`` header, and for a signed operation (§4) ``X-TIMESTAMP`` plus
``X-SIGNATURE`` over the exact body bytes. Headers are built per attempt, so every retry carries a fresh
timestamp; the body bytes never change between attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pay1st.config import Credentials
from pay1st.operations import Auth, Operation
from pay1st.signing import format_timestamp, sign
from pay1st.tokens import Token

__all__ = ["HeaderFactory", "header_factory"]

HeaderFactory = Callable[[], dict[str, str]]


def header_factory(
    operation: Operation,
    credentials: Credentials,
    token: Token | None,
    body: bytes | None,
    clock: Callable[[], float],
) -> HeaderFactory:
    """Headers for each attempt of ``operation``; ``token`` is required unless the operation uses Basic auth."""
    if operation.auth is Auth.ACCESS_TOKEN and token is None:
        raise ValueError(f"{operation.name} needs an access token")
    if operation.signed and body is None:
        raise ValueError(f"{operation.name} is signed and needs a body")

    def headers() -> dict[str, str]:
        values = {"Content-Type": operation.content_type}
        if operation.accept is not None:
            values["Accept"] = operation.accept
        if operation.auth is Auth.BASIC:
            values["Authorization"] = credentials.basic_authorization()
        elif token is not None:
            values["AccessToken"] = f"Bearer {token.access_token}"
        if operation.signed and body is not None:
            timestamp = format_timestamp(datetime.fromtimestamp(clock(), UTC))
            values["X-TIMESTAMP"] = timestamp
            values["X-SIGNATURE"] = sign(credentials.signing_key, timestamp, body)
        return values

    return headers
