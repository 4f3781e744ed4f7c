"""Access and refresh tokens (§2, §3), from the gateway's side: issued, refreshed, checked, expired."""

from __future__ import annotations

import base64
import copy
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .config import SandboxConfig
from .counters import Counters
from .errors import unauthorized
from .faults import FaultInjector


@dataclass
class AccessToken:
    value: str
    refresh_token: str
    created_at: float
    revoked: bool = False

    def __repr__(self) -> str:
        return f"AccessToken(created_at={self.created_at!r}, revoked={self.revoked!r})"


@dataclass
class RefreshToken:
    value: str
    last_used_at: float
    revoked: bool = False

    def __repr__(self) -> str:
        return f"RefreshToken(last_used_at={self.last_used_at!r}, revoked={self.revoked!r})"


def _opaque_token(kind: str) -> str:
    # Standard base64 plus a "+", "/" and "=" by construction: a checkout link that forgets to
    # URL-escape the access token (§8) breaks here exactly as it would against the real gateway.
    return f"{kind}+{base64.b64encode(secrets.token_bytes(24)).decode('ascii')}/{secrets.token_hex(4)}="


class TokenDesk:
    def __init__(
        self, config: SandboxConfig, faults: FaultInjector, counters: Counters, clock: Callable[[], float]
    ) -> None:
        self._config = config
        self._faults = faults
        self._counters = counters
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}

    @property
    def token_lifetime(self) -> float:
        override = self._faults.current.token_lifetime
        return self._config.token_lifetime if override is None else override

    def issue_token(self) -> tuple[str, str]:
        now = self._clock()
        with self._lock:
            self._forget_dead_tokens(now)
            refresh = RefreshToken(_opaque_token("rt"), now)
            access = AccessToken(_opaque_token("at"), refresh.value, now)
            self._refresh[refresh.value] = refresh
            self._access[access.value] = access
            self._counters.incr("tokens_issued")
            return access.value, refresh.value

    def refresh_token(self, refresh_value: str) -> tuple[str, str]:
        """Decision: a refresh issues a NEW access token (created now) against the same refresh token.

        The previous access token stays valid until its own expiry, as a stateless (JWT-like) token
        would; so a client that ignores the refreshed token fails once the old one runs out.
        """
        now = self._clock()
        with self._lock:
            refresh = self._refresh.get(refresh_value)
            if refresh is None or refresh.revoked:
                raise unauthorized("INVALID_REFRESH_TOKEN", "The refresh token is not valid.")
            if now - refresh.last_used_at > self._config.refresh_token_lifetime:
                raise unauthorized("REFRESH_TOKEN_EXPIRED", "The refresh token has expired.")
            refresh.last_used_at = now
            access = AccessToken(_opaque_token("at"), refresh.value, now)
            self._access[access.value] = access
            self._counters.incr("tokens_refreshed")
            return access.value, refresh.value

    def check_access_token(self, value: str) -> AccessToken:
        """The live token record (a copy), or 401 for an unknown, revoked or expired token."""
        now = self._clock()
        with self._lock:
            token = self._access.get(value)
            if token is None or token.revoked:
                raise unauthorized("INVALID_TOKEN", "The access token is not valid.")
            if now - token.created_at > self.token_lifetime:
                raise unauthorized("TOKEN_EXPIRED", "The access token has expired.")
            return copy.copy(token)

    def expire_tokens(self, *, refresh_tokens: bool = True) -> int:
        """Revoke every access token (and refresh token unless told not to); returns how many."""
        with self._lock:
            for token in self._access.values():
                token.revoked = True
            if refresh_tokens:
                for refresh in self._refresh.values():
                    refresh.revoked = True
            return len(self._access)

    def _forget_dead_tokens(self, now: float) -> None:
        horizon = max(self.token_lifetime, self._config.signature_window) * 2
        for value in [v for v, t in self._access.items() if t.revoked or now - t.created_at > horizon]:
            del self._access[value]
        dead_refresh = [
            v
            for v, r in self._refresh.items()
            if r.revoked or now - r.last_used_at > self._config.refresh_token_lifetime
        ]
        for value in dead_refresh:
            del self._refresh[value]

    def clear(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()
