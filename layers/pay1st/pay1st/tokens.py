"""Access tokens (contract §2, §3): memory → shared store → refresh → new token, single-flight.

A token is usable for signed requests for ``lifetime`` seconds from issue or refresh (the contract's
5 minutes); :class:`TokenManager` replaces it ``refresh_margin`` seconds before that. Across containers
the shared :class:`TokenStore` plus its lease lock makes one container do the refresh while the others
wait briefly and read the result; within a process a ``threading.Lock`` does the same for threads.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeGuard, runtime_checkable

from pay1st.errors import Pay1stConnectionError, Pay1stError

__all__ = ["InMemoryTokenStore", "Token", "TokenIssuer", "TokenManager", "TokenStore"]

logger = logging.getLogger("pay1st")


@dataclass(frozen=True)
class Token:
    """An access token and its refresh token; ``issued_at`` is epoch seconds of issue/refresh.

    The repr shows neither value (tokens are bearer credentials).
    """

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    issued_at: float

    def age(self, now: float) -> float:
        return now - self.issued_at

    def to_json(self) -> str:
        return json.dumps(
            {"accessToken": self.access_token, "refreshToken": self.refresh_token, "issuedAt": self.issued_at}
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Token:
        """Parse what :meth:`to_json` wrote; raises ``ValueError`` (without echoing the input) otherwise."""
        try:
            data = json.loads(text)
            token = cls(str(data["accessToken"]), str(data["refreshToken"]), float(data["issuedAt"]))
        except (ValueError, KeyError, TypeError):
            raise ValueError("stored token is not valid token JSON") from None
        if not token.access_token:
            raise ValueError("stored token has an empty access token")
        return token


@runtime_checkable
class TokenStore(Protocol):
    """The shared cache of the current token, and a lease lock so one container refreshes at a time."""

    def load(self) -> Token | None: ...

    def save(self, token: Token) -> None: ...

    def try_lock(self, owner: str, lease_seconds: float) -> bool:
        """Take the lock for ``lease_seconds`` unless someone else holds an unexpired lease."""
        ...

    def unlock(self, owner: str) -> None:
        """Release the lock if ``owner`` still holds it (a no-op otherwise)."""
        ...


class TokenIssuer(Protocol):
    """What gets tokens from the gateway (``Pay1stClient`` is one)."""

    def generate_token(self, *, deadline: float | None = None) -> Token: ...

    def refresh_token(self, refresh_token: str, *, deadline: float | None = None) -> Token: ...


class InMemoryTokenStore:
    """A process-local :class:`TokenStore` (tests, single-container use). Thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._mutex = threading.Lock()
        self._token: Token | None = None
        self._lock_owner: str | None = None
        self._lock_expires = 0.0
        self.loads = 0
        self.saves = 0

    def __repr__(self) -> str:
        return f"InMemoryTokenStore(has_token={self._token is not None}, locked_by={self._lock_owner!r})"

    def load(self) -> Token | None:
        with self._mutex:
            self.loads += 1
            return self._token

    def save(self, token: Token) -> None:
        with self._mutex:
            self.saves += 1
            self._token = token

    def try_lock(self, owner: str, lease_seconds: float) -> bool:
        with self._mutex:
            now = self._clock()
            if self._lock_owner is not None and self._lock_owner != owner and self._lock_expires > now:
                return False
            self._lock_owner = owner
            self._lock_expires = now + lease_seconds
            return True

    def unlock(self, owner: str) -> None:
        with self._mutex:
            if self._lock_owner == owner:
                self._lock_owner = None
                self._lock_expires = 0.0


class TokenManager:
    """Hands out a token that is usable for at least ``refresh_margin`` more seconds.

    Order: memory → ``store.load()`` → under the store's lease lock (winner only): refresh (§3) if the
    token is still within its lifetime, else (or if refresh fails) a new token (§2), then ``store.save()``.
    Losers poll the store until the winner's token appears; if nothing appears within ``wait_seconds``
    (a crashed winner: its lease expires), they take the lock themselves, and as a last resort issue a
    token without it (availability beats strict single-flight).

    ``poll_interval`` is 0.2 s by default: twenty cold containers polling SSM then stay well inside
    GetParameter's default throughput, and a token request takes longer than that anyway.

    Store failures never block payments: a failing ``load``/``try_lock``/``save`` is logged and the
    manager carries on as if the store were empty/unlocked/not saved.
    """

    def __init__(
        self,
        store: TokenStore,
        issuer: TokenIssuer,
        *,
        lifetime: float = 300.0,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        lease_seconds: float = 10.0,
        wait_seconds: float | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        if lifetime <= 0 or not 0 <= refresh_margin < lifetime:
            raise ValueError("need lifetime > 0 and 0 <= refresh_margin < lifetime")
        self._store = store
        self._issuer = issuer
        self._lifetime = lifetime
        self._margin = refresh_margin
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._lease = lease_seconds
        self._wait = wait_seconds if wait_seconds is not None else lease_seconds + 2.0
        self._poll = poll_interval
        self._memory: Token | None = None
        self._rejected: set[str] = set()  # access tokens the gateway answered 401 to
        self._lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self._counters = {"issued": 0, "refreshed": 0, "refresh_failed": 0, "store_reads": 0, "lock_waits": 0}

    def __repr__(self) -> str:
        return f"TokenManager(store={self._store!r}, counters={self.counters})"

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot: ``issued`` (§2 calls that succeeded), ``refreshed`` (§3), ``store_reads`` and more."""
        with self._counter_lock:
            return dict(self._counters)

    def _count(self, name: str) -> None:
        with self._counter_lock:
            self._counters[name] += 1

    def _fresh(self, token: Token | None) -> TypeGuard[Token]:
        return (
            token is not None
            and token.access_token not in self._rejected
            and token.age(self._clock()) < self._lifetime - self._margin
        )

    def get(self, *, deadline: float | None = None) -> Token:
        """A token usable for at least ``refresh_margin`` more seconds. ``deadline`` is ``time.monotonic()``-based."""
        token = self._memory
        if self._fresh(token):
            return token
        # One thread per process goes further; the others wait here and then find the token in memory.
        wait = -1.0 if deadline is None else max(0.0, deadline - self._monotonic())
        if not self._lock.acquire(timeout=wait):
            raise Pay1stConnectionError("deadline reached while waiting for another thread's token request")
        try:
            token = self._memory
            if self._fresh(token):
                return token
            stored = self._load()
            if self._fresh(stored):
                self._memory = stored
                return stored
            token = self._acquire(stored or token, deadline)
            self._memory = token
            return token
        finally:
            self._lock.release()

    def invalidate(self, token: Token) -> None:
        """Forget ``token`` (the gateway rejected it with 401): the next :meth:`get` replaces it."""
        with self._lock:
            if len(self._rejected) >= 16:  # only ever a handful; keep it bounded in a long-lived container
                self._rejected.clear()
            self._rejected.add(token.access_token)
            if self._memory is not None and self._memory.access_token == token.access_token:
                self._memory = None

    # --- internals ----------------------------------------------------------------------------------

    def _load(self) -> Token | None:
        self._count("store_reads")
        try:
            return self._store.load()
        except Exception:  # any store failure: behave as if it were empty (see class doc)
            logger.warning("pay1st token store load failed; continuing without it", exc_info=True)
            return None

    def _try_lock(self, owner: str) -> bool:
        try:
            return self._store.try_lock(owner, self._lease)
        except Exception:  # a broken lock must not block payments: proceed as the winner
            logger.warning("pay1st token store lock failed; refreshing without it", exc_info=True)
            return True

    def _unlock(self, owner: str) -> None:
        try:
            self._store.unlock(owner)
        except Exception:  # the lease expires by itself
            logger.warning("pay1st token store unlock failed; the lease will expire", exc_info=True)

    def _save(self, token: Token) -> None:
        try:
            self._store.save(token)
        except Exception:  # the token still works from memory; others will fetch their own
            logger.warning("pay1st token store save failed; token kept in memory only", exc_info=True)

    def _acquire(self, stale: Token | None, deadline: float | None) -> Token:
        owner = os.urandom(8).hex()
        start = self._monotonic()
        waited = False
        while True:
            if self._try_lock(owner):
                try:
                    # Another container may have saved a fresh token between our read and our lock.
                    latest = self._load()
                    if self._fresh(latest):
                        return latest
                    token = self._replace(latest or stale, deadline)
                    self._save(token)
                    return token
                finally:
                    self._unlock(owner)
            if not waited:
                self._count("lock_waits")
                waited = True
            now = self._monotonic()
            out_of_time = now - start >= self._wait or (deadline is not None and now + self._poll >= deadline)
            if out_of_time:
                logger.warning(
                    "pay1st token lock still held after %.1fs; fetching a token without it", now - start
                )
                token = self._replace(stale, deadline)
                self._save(token)
                return token
            self._sleep(self._poll)
            latest = self._load()
            if self._fresh(latest):
                return latest

    def _replace(self, stale: Token | None, deadline: float | None) -> Token:
        """Refresh ``stale`` if it is still within its lifetime and not rejected, else issue a new token."""
        if (
            stale is not None
            and stale.refresh_token
            and stale.access_token not in self._rejected
            and stale.age(self._clock()) < self._lifetime
        ):
            try:
                token = self._issuer.refresh_token(stale.refresh_token, deadline=deadline)
            except Pay1stError as exc:
                self._count("refresh_failed")
                logger.info("pay1st token refresh failed (%s); requesting a new token", type(exc).__name__)
            else:
                self._count("refreshed")
                return token
        token = self._issuer.generate_token(deadline=deadline)
        self._count("issued")
        return token
