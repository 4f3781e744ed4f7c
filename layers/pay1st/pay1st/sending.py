"""The one retry loop (contract §13): attempts, backoff, deadlines, and unknown outcomes.

It sends through :class:`~pay1st.transport.Transport` and asks the pure policy in :mod:`pay1st.retry`
what each attempt's outcome means for the operation, whose ``outcome_unknown_if_lost`` column
(:mod:`pay1st.operations`) is the only thing that makes one operation differ from another here.
Authentication (and the re-authentication on a 401) is the caller's: the loop returns the final
response, success or error status, for the caller to map (:func:`pay1st.errors.error_for_status`).

Our loop rather than urllib3's ``Retry``: failures must be classified as sent/not-sent, sleeping must
honour the Lambda deadline (``Retry`` sleeps with ``time.sleep`` and knows no deadline), and every
attempt's ``sessionId`` is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn

import urllib3

from pay1st.auth_headers import HeaderFactory
from pay1st.config import ClientConfig
from pay1st.errors import OutcomeUnknownError, Pay1stConnectionError, error_for_status
from pay1st.operations import Operation
from pay1st.retry import RandomSource, backoff_delay, can_wait, decide, remaining
from pay1st.transport import Response, Transport, TransportError

__all__ = ["Result", "RetryLoop", "attempt_timeout", "error_fields"]

logger = logging.getLogger("pay1st")


@dataclass(frozen=True)
class Result:
    """The final response, and whether any attempt of the request was answered with a 5xx (for an
    ``outcome_unknown_if_lost`` operation: it may have been processed)."""

    response: Response
    after_server_error: bool = False


def error_fields(response: Response) -> str:
    """The support handles of an error response, for logs (never the message: it may echo secrets)."""
    error = error_for_status(response.status, response.body)
    return f"errorCode={error.error_code} sessionId={error.session_id}"


def attempt_timeout(config: ClientConfig, left: float | None) -> urllib3.Timeout:
    """Connect and read timeouts of one attempt; with a deadline, ``total`` also bounds connect + read
    together, so an attempt that spends its time connecting cannot then read past the deadline."""
    if left is None:
        return urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout)
    return urllib3.Timeout(
        total=left, connect=min(config.connect_timeout, left), read=min(config.read_timeout, left)
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: ignore, the backoff applies


class RetryLoop:
    """Sends one request with retries. ``sleep``/``monotonic``/``rng`` are injectable for tests."""

    def __init__(
        self,
        transport: Transport,
        *,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        rng: RandomSource,
    ) -> None:
        self.transport = transport
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng

    def send(
        self,
        operation: Operation,
        url: str,
        headers: HeaderFactory,
        body: bytes | None,
        *,
        config: ClientConfig,
        deadline: float | None,
        scrub: Callable[[bytes], bytes],
        after_server_error: bool = False,
    ) -> Result:
        """Returns the final response (success or an error status for the caller to map); raises
        :class:`Pay1stConnectionError` when every attempt failed in transport (or none could start), and
        :class:`OutcomeUnknownError` for an ``outcome_unknown_if_lost`` operation when a retry could
        repeat it or a refusal may be caused by an earlier attempt. ``after_server_error``: an earlier
        call for the same request (before a re-authentication) saw a 5xx. ``scrub`` removes the call's
        secrets from a body that becomes part of an error."""
        op = operation.name
        unsafe = operation.outcome_unknown_if_lost
        attempt = 0
        last_response: Response | None = None
        last_error: TransportError | None = None
        while True:
            attempt += 1
            left = remaining(deadline, self._monotonic())
            if left is not None and left <= 0:
                break
            try:
                response = self.transport.send(
                    operation.method, url, headers=headers(), body=body, timeout=attempt_timeout(config, left)
                )
            except TransportError as exc:
                if decide(failure=exc.failure, outcome_unknown_if_lost=unsafe) == "unknown":
                    logger.error("pay1st %s: outcome unknown after %s (attempt %d)", op, exc.reason, attempt)
                    raise OutcomeUnknownError(
                        f"{op}: no answer after the request was sent ({exc.reason}); outcome unknown"
                    ) from None
                last_error, last_response = exc, None
                logger.warning("pay1st %s: %s on attempt %d", op, exc.reason, attempt)
                retry_after = None
            else:
                decision = decide(
                    status=response.status,
                    outcome_unknown_if_lost=unsafe,
                    after_server_error=after_server_error,
                )
                if decision in ("done", "fail"):
                    return Result(response, after_server_error)
                if decision == "unknown":
                    self._raise_unknown(op, response, scrub)
                after_server_error = after_server_error or response.status >= 500
                last_error, last_response = None, response
                logger.warning(
                    "pay1st %s: HTTP %d on attempt %d (%s)",
                    op,
                    response.status,
                    attempt,
                    error_fields(response),
                )
                retry_after = _retry_after(response.headers)

            if attempt >= config.max_attempts:
                break
            delay = backoff_delay(attempt, config.backoff_base, config.backoff_cap, self._rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, config.backoff_cap))
            if not can_wait(
                delay, now=self._monotonic(), deadline=deadline, attempt_budget=config.connect_timeout
            ):
                logger.warning("pay1st %s: no time left for another attempt; giving up", op)
                break
            self._sleep(delay)

        if last_response is not None:
            return Result(last_response, after_server_error)
        if last_error is not None:
            raise Pay1stConnectionError(
                f"{op}: could not reach the gateway after {attempt} attempt(s) ({last_error.reason})"
            )
        raise Pay1stConnectionError(f"{op}: deadline reached before the request could be sent")

    @staticmethod
    def _raise_unknown(op: str, response: Response, scrub: Callable[[bytes], bytes]) -> NoReturn:
        logger.error("pay1st %s: HTTP %d, outcome unknown (%s)", op, response.status, error_fields(response))
        cause = error_for_status(response.status, scrub(response.body))
        why = "after an earlier 5xx" if response.status < 500 else "after the request was sent"
        raise OutcomeUnknownError(
            f"{op}: HTTP {response.status} {why}; outcome unknown",
            status=response.status,
            error_code=cause.error_code,
            session_id=cause.session_id,
        ) from cause
