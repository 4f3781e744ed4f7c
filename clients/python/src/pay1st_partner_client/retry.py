"""The retry policy as small pure functions: which failures are retried, and how long to wait."""

from __future__ import annotations

import random

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Retrying cannot help these, whatever their status: the gateway refused the request or our credentials.
FINAL_CODES = frozenset({"gateway_rejected"})
# Not a failure of the request: the first identical one is still running, so asking again is the way on.
RETRYABLE_CODES = frozenset({"create_in_progress"})


def should_retry(status: int | None, code: str | None, attempt: int, max_attempts: int) -> bool:
    """``status`` None means the connection failed. Every retried call is idempotent in this API."""
    if attempt >= max_attempts:
        return False
    if status is None:
        return True
    if code in FINAL_CODES:
        return False
    return status in RETRYABLE_STATUSES or code in RETRYABLE_CODES


def backoff_seconds(
    attempt: int, *, base: float = 0.25, cap: float = 4.0, rng: random.Random | None = None
) -> float:
    """Full jitter over a capped exponential: uniform in [0, min(cap, base * 2 ** (attempt - 1))]."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)
