"""The retry policy's pure functions, pinned."""

from __future__ import annotations

import time

import pytest
from pay1st.retry import (
    NOT_SENT,
    SENT,
    backoff_delay,
    can_wait,
    deadline_after,
    decide,
    remaining,
    should_retry,
)


class Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("status", "plain", "create"),
    [
        (200, "done", "done"),
        (201, "done", "done"),
        (400, "fail", "fail"),
        (401, "fail", "fail"),
        (404, "fail", "fail"),
        (429, "retry", "retry"),
        (500, "retry", "unknown"),
        (502, "retry", "unknown"),
        (503, "retry", "retry"),
        (504, "retry", "unknown"),
    ],
)
def test_decide_by_status(status: int, plain: str, create: str) -> None:
    assert decide(status=status) == plain
    assert decide(status=status, create=True) == create


@pytest.mark.parametrize(
    ("status", "expected"),
    [(201, "done"), (400, "unknown"), (403, "unknown"), (404, "unknown"), (401, "fail"), (429, "retry")],
)
def test_create_refused_after_a_server_error_is_unknown(status: int, expected: str) -> None:
    assert decide(status=status, create=True, after_server_error=True) == expected
    # Only create is ambiguous: a safe operation's refusal stays a plain failure.
    assert decide(status=status, after_server_error=True) == decide(status=status)


def test_decide_by_transport_failure() -> None:
    assert decide(failure=NOT_SENT) == "retry"
    assert decide(failure=NOT_SENT, create=True) == "retry"
    assert decide(failure=SENT) == "retry"
    assert decide(failure=SENT, create=True) == "unknown"
    assert should_retry(failure=NOT_SENT, create=True)
    assert not should_retry(failure=SENT, create=True)
    assert not should_retry(status=400)
    with pytest.raises(ValueError):
        decide()


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    top = Fixed(1.0)
    assert [backoff_delay(n, 0.2, 3.0, top) for n in range(1, 7)] == pytest.approx(
        [0.2, 0.4, 0.8, 1.6, 3.0, 3.0]
    )
    assert backoff_delay(3, 0.2, 3.0, Fixed(0.0)) == 0.0
    assert backoff_delay(3, 0.2, 3.0, Fixed(0.5)) == pytest.approx(0.4)
    assert backoff_delay(10_000, 0.2, 3.0, top) == 3.0  # no overflow
    with pytest.raises(ValueError):
        backoff_delay(0, 0.2, 3.0, top)


def test_deadline_helpers() -> None:
    before = time.monotonic()
    deadline = deadline_after(5)
    assert before + 5 <= deadline <= time.monotonic() + 5
    assert deadline_after(-3) <= time.monotonic()
    assert remaining(None, 10.0) is None
    assert remaining(12.0, 10.0) == 2.0
    assert remaining(9.0, 10.0) == 0.0


def test_can_wait_never_plans_past_the_deadline() -> None:
    assert can_wait(1.0, now=0.0, deadline=None, attempt_budget=3.0)
    assert can_wait(1.0, now=0.0, deadline=4.0, attempt_budget=3.0)
    assert not can_wait(1.01, now=0.0, deadline=4.0, attempt_budget=3.0)


@pytest.mark.parametrize("status", [200, 400, 401, 404, 429, 500, 502, 503, 504])
def test_create_is_the_former_name_of_outcome_unknown_if_lost(status: int) -> None:
    for after in (False, True):
        assert decide(status=status, outcome_unknown_if_lost=True, after_server_error=after) == decide(
            status=status, create=True, after_server_error=after
        )
    assert decide(failure=SENT, outcome_unknown_if_lost=True) == "unknown"
    assert not should_retry(failure=SENT, outcome_unknown_if_lost=True)
