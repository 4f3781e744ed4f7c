"""Retry policy as small pure functions (the one retry loop in :mod:`pay1st.sending` calls these; tests pin them).

Contract §13: retry only 429, 5xx and connection failures, capped exponential backoff with jitter,
inside the Lambda's remaining time.

Some operations must not be repeated blindly: those where a request that reached the gateway but whose
answer was lost leaves the outcome unknown, because a repeat could act twice (create payment: a second
payment; a refund would be another). They are flagged ``outcome_unknown_if_lost`` (one column of the
operation table, :mod:`pay1st.operations`), and for them:

* connect failure (nothing was sent)         -> retry
* 429 (rejected before processing)           -> retry
* 503 (service unavailable: normally not processed) -> retry with the same body and partnerReference,
  which the gateway accepts at most once, so the retry cannot pay twice (but see the last rule)
* 500 / 502 / 504 and any other 5xx          -> OUTCOME UNKNOWN, no retry: the gateway (or a proxy in
  front of it) may have processed the request before failing, and a blind retry could pay twice
* read timeout / connection dropped after the body was sent -> OUTCOME UNKNOWN, no retry
* any other 4xx                              -> fail (401 is handled by the client: re-auth once, retry once)
* a 4xx other than 401/429 AFTER an earlier 5xx -> OUTCOME UNKNOWN: the 5xx'd attempt may have created
  the payment after all, and the retry is then refused for it (400 "partnerReference already used");
  reporting that as a clean failure would let the caller release a partnerReference that is paid

Every other operation (token, refresh, methods, status query, fulfilment) is safe to repeat and is
retried on 429, every 5xx and every connection failure.
"""

from __future__ import annotations

import time
from typing import Literal, Protocol

__all__ = [
    "NOT_SENT",
    "SENT",
    "Decision",
    "Failure",
    "RandomSource",
    "backoff_delay",
    "can_wait",
    "deadline_after",
    "decide",
    "remaining",
    "should_retry",
]

# How a transport failure relates to the request: known not to have left us, or possibly delivered.
NOT_SENT: Literal["not_sent"] = "not_sent"
SENT: Literal["sent"] = "sent"
Failure = Literal["not_sent", "sent"]

Decision = Literal["done", "retry", "fail", "unknown"]

# For an outcome_unknown_if_lost operation: the statuses that say the attempt was not processed.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})
# Refusals that say nothing about whether an earlier attempt was processed.
_REAUTH_OR_THROTTLED = frozenset({401, 429})


class RandomSource(Protocol):
    def random(self) -> float: ...


def deadline_after(seconds: float) -> float:
    """An absolute ``time.monotonic()`` deadline ``seconds`` from now (negative counts as 0)."""
    return time.monotonic() + max(0.0, seconds)


def remaining(deadline: float | None, now: float) -> float | None:
    """Seconds left before ``deadline`` (``None`` = no deadline), never negative."""
    return None if deadline is None else max(0.0, deadline - now)


def decide(
    *,
    status: int | None = None,
    failure: Failure | None = None,
    outcome_unknown_if_lost: bool = False,
    after_server_error: bool = False,
    create: bool = False,
) -> Decision:
    """Classify one attempt's outcome: ``done`` (a final answer, success or error), ``retry``, ``fail`` or ``unknown``.

    Pass either the HTTP ``status`` or the transport ``failure``. ``outcome_unknown_if_lost``: the
    operation may not be repeated once it may have been processed (see the module docstring).
    ``create`` is its former name, still accepted. ``after_server_error``: an earlier attempt of the
    same request was answered with a 5xx (so it may have been processed).
    """
    unsafe_to_repeat = outcome_unknown_if_lost or create
    if failure is not None:
        if failure == NOT_SENT:
            return "retry"
        return "unknown" if unsafe_to_repeat else "retry"
    if status is None:
        raise ValueError("decide() needs a status or a failure")
    if status < 400:
        return "done"
    if unsafe_to_repeat:
        if status in _NOT_PROCESSED_STATUSES:
            return "retry"
        if status >= 500:
            return "unknown"
        if after_server_error and status not in _REAUTH_OR_THROTTLED:
            return "unknown"
        return "fail"
    if status == 429 or status >= 500:
        return "retry"
    return "fail"


def should_retry(
    *,
    status: int | None = None,
    failure: Failure | None = None,
    outcome_unknown_if_lost: bool = False,
    create: bool = False,
) -> bool:
    """True when the attempt may be repeated (see the table in the module docstring)."""
    unsafe = outcome_unknown_if_lost or create
    return decide(status=status, failure=failure, outcome_unknown_if_lost=unsafe) == "retry"


def backoff_delay(attempt: int, base: float, cap: float, rng: RandomSource) -> float:
    """Full-jitter capped exponential backoff before retry number ``attempt`` (1 = the first retry).

    Uniform in ``[0, min(cap, base * 2 ** (attempt - 1))]``.
    """
    if attempt < 1:
        raise ValueError("attempt counts retries from 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 32))
    return rng.random() * ceiling


def can_wait(delay: float, *, now: float, deadline: float | None, attempt_budget: float) -> bool:
    """Whether sleeping ``delay`` and then running an attempt that needs ``attempt_budget`` seconds fits
    before ``deadline``. A retry that cannot finish in time is not started: the last error is raised."""
    return deadline is None or now + delay + attempt_budget <= deadline
