"""The simulation (sim/) as part of the test run: the CI budget finds nothing, a known bug is found, and a seed
replays byte for byte."""

from __future__ import annotations

import pytest

from sim.mix import default_mix
from sim.run import run_cohort

# The CI budget: this many payments under the default fault mix, seeded, well under 60 s here.
CI_PAYMENTS = 1500
CI_SEED = 22


def test_same_seed_gives_the_same_trace_byte_for_byte() -> None:
    """Given one seed, when the world runs twice, then both traces are identical (and a second seed differs)."""
    first = run_cohort(5, 0, 40, default_mix())
    second = run_cohort(5, 0, 40, default_mix())
    other = run_cohort(6, 0, 40, default_mix())
    assert first.trace and "\n".join(first.trace) == "\n".join(second.trace)
    assert first.digest == second.digest != other.digest


@pytest.mark.slow
def test_ci_budget_finds_no_violation() -> None:
    """Given the CI budget (every fault on, issue 21's two triggers off until it is merged), when it runs to
    quiescence, then no invariant is broken."""
    result = run_cohort(CI_SEED, 0, CI_PAYMENTS, default_mix(), keep_trace=False)
    assert [f"{v.invariant} {v.payment}: {v.detail}" for v in result.violations] == []
    assert result.stats["crashes"] > 0 and result.stats["gateway"] and result.stats["aws"]


@pytest.mark.slow
def test_a_known_bug_is_found() -> None:
    """Given the outbox never re-published (a bug the poller guards against), when the same budget runs, then
    the lost events are reported."""
    result = run_cohort(
        CI_SEED, 0, CI_PAYMENTS, default_mix(), mutation="outbox_never_republished", keep_trace=False
    )
    assert {"event_not_published", "outbox_not_empty"} & {v.invariant for v in result.violations}
