"""What a :class:`~pay1st.client.Pay1stClient` is given: where the gateway is, how patient to be, and
the credentials. Both are re-exported by :mod:`pay1st.client`, where callers import them from.

They live apart from the client because the request path (signing, redaction, the retry loop) reads
them too, and none of it should import the client.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

__all__ = ["ClientConfig", "Credentials"]


@dataclass(frozen=True, repr=False)
class Credentials:
    """API key + secret (token endpoint only) and the Signing Key. The repr shows none of them."""

    api_key: str
    api_secret: str
    signing_key: str

    def __repr__(self) -> str:
        return "Credentials(api_key=<hidden>, api_secret=<hidden>, signing_key=<hidden>)"

    def basic_authorization(self) -> str:
        raw = f"{self.api_key}:{self.api_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secret_values(self) -> tuple[str, ...]:
        return (
            self.api_key,
            self.api_secret,
            self.signing_key,
            self.basic_authorization().removeprefix("Basic "),
        )


@dataclass(frozen=True)
class ClientConfig:
    """Where the gateway is and how patient to be. ``token_*`` follow the contract's 5-minute window (§3)."""

    base_url: str
    pay_url: str
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 4
    backoff_base: float = 0.2
    backoff_cap: float = 3.0
    token_lifetime: float = 300.0
    token_refresh_margin: float = 60.0
    token_lock_lease: float = 10.0
    pool_maxsize: int = 10

    def __post_init__(self) -> None:
        for name in ("base_url", "pay_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL")
            object.__setattr__(self, name, value.rstrip("/"))
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff values must not be negative")
