"""The check schedule: every minute for 20 minutes, every 80 s to the hour (a payment paid then is found within
about 2 minutes even with every webhook lost), then every 2 hours; never "now" again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pay1st_partner.check_schedule import DEFAULT_SCHEDULE, CheckSchedule
from pay1st_partner.request_budget import RequestBudget

CREATED = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age_seconds", "next_seconds"),
    [(0, 60), (30, 60), (60, 120), (90, 120), (120, 180), (294, 300), (300, 360), (1199, 1200), (1200, 1280),
     (1279, 1280), (1280, 1360), (3540, 3600), (3600, 7200), (3660, 7200), (7199, 7200), (7200, 14400),
     (47.5 * 3600, 48 * 3600)],
)  # fmt: skip
def test_next_check_is_the_first_point_after_now(age_seconds: float, next_seconds: float) -> None:
    now = CREATED + timedelta(seconds=age_seconds)
    assert DEFAULT_SCHEDULE.next_check(CREATED, now) == CREATED + timedelta(seconds=next_seconds)


def test_a_schedule_must_be_positive_and_increasing() -> None:
    for offsets in ((), (0.0, 60.0), (60.0, 60.0), (120.0, 60.0)):
        with pytest.raises(ValueError, match="positive and increasing"):
            CheckSchedule(offsets)
    assert CheckSchedule((10.0,)).next_check(CREATED, CREATED + timedelta(seconds=25)) == CREATED + timedelta(
        seconds=30
    )


def test_the_budget_spaces_requests_and_reserves_no_slot_past_the_limit() -> None:
    now = [100.0]
    slept: list[float] = []
    budget = RequestBudget(4.0, monotonic=lambda: now[0], sleep=slept.append)
    assert [budget.acquire(until=101.0) for _ in range(6)] == [True, True, True, True, True, False]
    assert slept == [0.25, 0.5, 0.75, 1.0]
    now[0] = 102.0  # time has passed: the next slot is now, with no burst of the missed ones
    assert budget.acquire(until=102.0) and slept == [0.25, 0.5, 0.75, 1.0]
    assert budget.acquire(until=102.1) is False
