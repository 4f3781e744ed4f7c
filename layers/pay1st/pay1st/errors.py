"""One error hierarchy for everything the layer raises (contract §13).

Messages never contain tokens, secrets, signing keys, signatures or checkout links: only the HTTP
status, the gateway's ``errorCode``/``errorMessage`` and its ``sessionId`` (what Pay1st support asks for).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "GatewayServerError",
    "InvalidRequestError",
    "OutcomeUnknownError",
    "Pay1stAPIError",
    "Pay1stConnectionError",
    "Pay1stError",
    "RateLimitError",
    "SignatureVerificationError",
    "UnexpectedResponseError",
    "ValidationError",
    "error_for_status",
]

# The gateway's errorMessage is echoed into our messages; keep it to a sane size.
_MAX_TEXT = 300


class Pay1stError(Exception):
    """Base class of every error raised by the layer."""


class Pay1stConnectionError(Pay1stError):
    """No HTTP answer, and the request is known NOT to have been processed: it was never sent (the
    connection failed, the deadline came first), or it was sent by an operation that is safe to repeat
    and every retry failed too. A clean failure: the caller may try again or give up."""


class OutcomeUnknownError(Pay1stError):
    """The request may have been processed by the gateway, and there is no definitive answer.

    Raised only for operations whose lost answer leaves the outcome unknown (``outcome_unknown_if_lost``
    in :mod:`pay1st.operations`: create payment): after a read timeout or a dropped connection once the
    body was sent, a 5xx that may have followed processing, a 2xx whose body is unreadable, or a refusal
    (e.g. 400 "partnerReference already used") of a retry after a 5xx: the 5xx'd attempt may have
    created the payment, and the refusal's error is chained as ``__cause__``. The caller must NOT treat
    this as a failure that invites a new partnerReference: query the payment (§9) or retry with the
    same partnerReference later.

    Deliberately not a :class:`Pay1stConnectionError` (which means "not processed"), although it may
    follow a transport failure: an ``except Pay1stConnectionError`` must never swallow it. ``status``,
    ``error_code`` and ``session_id`` are set when an HTTP answer (a 5xx, or the refusal) was received.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.session_id = session_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields: the default pickling would rebuild the error from the message alone.
        fields = {"status": self.status, "error_code": self.error_code, "session_id": self.session_id}
        return (_rebuild_outcome_unknown, (str(self), fields))


def _rebuild_outcome_unknown(message: str, fields: dict[str, Any]) -> OutcomeUnknownError:
    return OutcomeUnknownError(message, **fields)


class Pay1stAPIError(Pay1stError):
    """The gateway answered with an HTTP error status (§13)."""

    def __init__(
        self,
        status: int,
        error_code: str | None = None,
        error_message: str | None = None,
        session_id: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.session_id = session_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"Pay1st API error: HTTP {self.status}"]
        if self.error_code:
            parts.append(f"errorCode={self.error_code}")
        if self.error_message:
            parts.append(f"errorMessage={self.error_message!r}")
        if self.session_id:
            parts.append(f"sessionId={self.session_id}")
        return ", ".join(parts)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the error picklable (multiprocessing, powertools batch) despite the custom __init__.
        return (type(self), (self.status, self.error_code, self.error_message, self.session_id))


class InvalidRequestError(Pay1stAPIError):
    """400/404/405 (and any other 4xx not listed below): the request itself was wrong. Never retried."""


class AuthenticationError(Pay1stAPIError):
    """401/403: bad credentials or token, or not permitted."""


class RateLimitError(Pay1stAPIError):
    """429: too many requests (retried with backoff before this is raised)."""


class GatewayServerError(Pay1stAPIError):
    """5xx: a gateway fault (retried where safe before this is raised)."""


class UnexpectedResponseError(Pay1stError):
    """A 2xx response whose body does not have the documented shape."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class SignatureVerificationError(Pay1stError):
    """A webhook's signature or timestamp did not verify (§10). ``reason`` says which check failed."""

    MISSING_HEADER = "missing_header"
    MALFORMED_TIMESTAMP = "malformed_timestamp"
    BAD_SIGNATURE = "bad_signature"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    REASONS = frozenset(
        {MISSING_HEADER, MALFORMED_TIMESTAMP, BAD_SIGNATURE, TIMESTAMP_TOO_OLD, TIMESTAMP_IN_FUTURE}
    )

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown signature failure reason {reason!r}")
        self.reason = reason
        super().__init__(message or reason.replace("_", " "))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, str(self)))


class ValidationError(Pay1stError, ValueError):
    """A model rejected its input. ``field`` names the offending field (wire name where there is one)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, str(self).removeprefix(f"{self.field}: ")))


class ConfigurationError(Pay1stError):
    """The layer was given unusable configuration (e.g. a credentials secret without a required key)."""


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:_MAX_TEXT] if text else None


def error_for_status(status: int, body: bytes) -> Pay1stAPIError:
    """Map an HTTP error status and its body to the error class: the one place this mapping lives.

    Non-JSON bodies (an HTML page from a load balancer, an empty body, JSON nested too deeply to parse)
    are tolerated: the error then carries only the status.
    """
    error_code = error_message = session_id = None
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        payload = None
    if isinstance(payload, dict):
        error_code = _text(payload.get("errorCode"))
        error_message = _text(payload.get("errorMessage"))
        session_id = _text(payload.get("sessionId"))

    cls: type[Pay1stAPIError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 429:
        cls = RateLimitError
    elif 500 <= status <= 599:
        cls = GatewayServerError
    elif 400 <= status <= 499:
        cls = InvalidRequestError
    else:
        cls = Pay1stAPIError
    return cls(status, error_code, error_message, session_id)
