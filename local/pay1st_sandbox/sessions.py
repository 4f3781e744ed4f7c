"""Hosted-page sessions (§8): the access token is checked once, when the page is opened; the page's forms
post the session back, so a person may take their time. A session is used up by the press that uses it."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .errors import bad_request, unauthorized


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    reference: str
    channel_id: int | None
    expires_at: float


class CheckoutSessions:
    def __init__(self, clock: Callable[[], float], lifetime: float) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._sessions: dict[str, CheckoutSession] = {}

    def open(self, reference: str, channel_id: int | None) -> CheckoutSession:
        now = self._clock()
        with self._lock:
            for sid in [sid for sid, s in self._sessions.items() if s.expires_at < now]:
                del self._sessions[sid]
            session = CheckoutSession(secrets.token_urlsafe(24), reference, channel_id, now + self._lifetime)
            self._sessions[session.id] = session
            return session

    def peek(self, session_id: str) -> CheckoutSession:
        """The live session (a page showing the next step reads it); 400/401 like :meth:`take`."""
        with self._lock:
            session = self._sessions.get(session_id)
        return self._alive(session)

    def take(self, session_id: str) -> CheckoutSession:
        """The session behind a press; it is used up by the press."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        return self._alive(session)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()

    def _alive(self, session: CheckoutSession | None) -> CheckoutSession:
        if session is None:
            raise bad_request("INVALID_SESSION", "This checkout session is unknown or was already used.")
        if session.expires_at < self._clock():
            raise unauthorized("SESSION_EXPIRED", "This checkout session has expired.")
        return session
