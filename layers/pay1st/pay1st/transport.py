"""The transport: send one HTTP request, return status/headers/body. No retries, no auth, no policy.

Transport failures are classified here, once, as :data:`~pay1st.retry.NOT_SENT` (the request certainly
never left us) or :data:`~pay1st.retry.SENT` (it may have reached the gateway); the retry loop in
:mod:`pay1st.sending` decides what that means for the operation at hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    EmptyPoolError,
    HTTPError,
    LocationValueError,
)

from pay1st.retry import NOT_SENT, SENT, Failure

__all__ = ["USER_AGENT", "Response", "Transport", "TransportError", "classify"]

USER_AGENT = "pay1st-partner-layer/1 (+urllib3)"


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """No HTTP answer. ``failure`` says whether the request may have reached the gateway; ``reason`` is
    the urllib3 exception's class name (the exception itself is not kept: its text may hold the URL).

    Internal to the request path: the retry loop turns it into a :class:`~pay1st.errors.Pay1stError`.
    """

    def __init__(self, failure: Failure, reason: str) -> None:
        super().__init__(f"{reason} ({failure})")
        self.failure = failure
        self.reason = reason


def classify(exc: HTTPError) -> Failure:
    """Did the request possibly reach the gateway? Only failures before sending are NOT_SENT.

    A TLS failure or a timeout during the handshake is classified SENT (urllib3 cannot tell us which
    phase failed); for create that errs on the side of "outcome unknown", never of a duplicate payment.
    """
    if isinstance(exc, ConnectTimeoutError | EmptyPoolError | ClosedPoolError | LocationValueError):
        return NOT_SENT  # ConnectTimeoutError covers NewConnectionError and NameResolutionError
    return SENT


class Transport:
    """One ``urllib3.PoolManager`` (keep one per process, so connections are reused across invocations)."""

    def __init__(self, pool: urllib3.PoolManager) -> None:
        self.pool = pool

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: urllib3.Timeout,
    ) -> Response:
        """One request. Raises :class:`TransportError` when no HTTP answer came back."""
        try:
            raw = self.pool.request(
                method,
                url,
                body=body,
                headers={"User-Agent": USER_AGENT, **headers},
                timeout=timeout,
                # Ours, not urllib3's: the retry loop must classify failures as sent/not-sent, honour
                # the Lambda deadline while sleeping, and log sessionIds (see pay1st.sending).
                retries=False,
                redirect=False,
            )
        except HTTPError as exc:
            raise TransportError(classify(exc), type(exc).__name__) from None
        return Response(raw.status, raw.headers, raw.data)

    def close(self) -> None:
        self.pool.clear()
