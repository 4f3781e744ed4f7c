"""The transition graph: NEW → PENDING → finals, NEW → final, finals terminal, unknown statuses never apply."""

from __future__ import annotations

from types import ModuleType

import pytest
from pay1st_partner import refund_state, state
from pay1st_partner.state import Verdict, decide


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        ("NEW", "PENDING"),
        ("NEW", "SUCCESSFUL"),
        ("NEW", "FAILED"),
        ("NEW", "CANCELLED"),
        ("NEW", "ABANDONED"),
        ("PENDING", "SUCCESSFUL"),
        ("PENDING", "ABANDONED"),
        ("CREATE_UNKNOWN", "NEW"),
        ("CREATE_UNKNOWN", "SUCCESSFUL"),
        ("CREATING", "PENDING"),
    ],
)
def test_allowed_transitions_apply(current: str, reported: str) -> None:
    assert decide(current, reported).verdict is Verdict.APPLY


@pytest.mark.parametrize(
    ("current", "reported"), [("PENDING", "NEW"), ("SUCCESSFUL", "PENDING"), ("FAILED", "NEW")]
)
def test_earlier_statuses_arriving_late_are_stale(current: str, reported: str) -> None:
    assert decide(current, reported).verdict is Verdict.STALE


@pytest.mark.parametrize("status", sorted(state.ALL_STATUSES))
def test_same_status_again_is_a_duplicate(status: str) -> None:
    expected = Verdict.SAME if status in state.GATEWAY_STATUSES else Verdict.UNKNOWN
    assert decide(status, status).verdict is expected


def test_a_different_final_after_a_final_is_a_conflict() -> None:
    for current in state.FINAL_STATUSES:
        for reported in state.FINAL_STATUSES - {current}:
            assert decide(current, reported).verdict is Verdict.CONFLICT


@pytest.mark.parametrize("reported", ["ON_HOLD", "REFUND", "CHARGEBACK", "successful", "", "CREATING"])
def test_unknown_statuses_never_apply(reported: str) -> None:
    # Internal statuses are not something the gateway may report either.
    for current in state.ALL_STATUSES:
        assert decide(current, reported).verdict is Verdict.UNKNOWN


def test_finals_are_terminal_and_the_graph_has_no_cycles() -> None:
    for final in state.FINAL_STATUSES:
        assert state.ALLOWED_TRANSITIONS[final] == frozenset()

    # Every status reachable from a status never leads back to it: each status is reached at most once,
    # which is what makes "{partnerReference}:{status}" a unique event id.
    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(state.ALLOWED_TRANSITIONS[start])
        while todo:
            status = todo.pop()
            if status not in seen:
                seen.add(status)
                todo.extend(state.ALLOWED_TRANSITIONS[status])
        return seen

    for status in state.ALL_STATUSES:
        assert status not in reachable(status)


def test_create_outcome_unknown_is_an_internal_transition_only() -> None:
    # Given a claimed payment / Then the create flow may mark it unknown, but no gateway report can
    assert state.can_transition("CREATING", "CREATE_UNKNOWN")
    assert decide("CREATING", "CREATE_UNKNOWN").verdict is Verdict.UNKNOWN


def test_open_and_final() -> None:
    assert state.is_open("NEW") and state.is_open("PENDING") and state.is_open("CREATE_UNKNOWN")
    assert not state.is_open("SUCCESSFUL") and not state.is_open("REFUND")
    assert state.is_final("ABANDONED") and not state.is_final("PENDING")


@pytest.mark.parametrize("module", [state, refund_state], ids=["payment", "refund"])
def test_open_and_final_are_one_rule_for_payments_and_refunds(module: ModuleType) -> None:
    """Given either status graph, When a status is asked about, Then it is open exactly when it is one of
    the graph's statuses (internal ones included) and not final, and final exactly when in the finals."""
    all_statuses: frozenset[str] = module.ALL_STATUSES
    finals: frozenset[str] = module.FINAL_STATUSES
    for status in all_statuses | {"REFUND", "PROCESSING", "PENDING_INVESTIGATION", "NOT_A_STATUS"}:
        assert module.is_open(status) == (status in all_statuses and status not in finals)
        assert module.is_final(status) == (status in finals)


def test_every_status_reached_by_a_transition_has_an_event_type_except_new() -> None:
    targets = {t for targets in state.ALLOWED_TRANSITIONS.values() for t in targets} & state.GATEWAY_STATUSES
    assert {s for s in targets if state.detail_type(s) is None} == {"NEW"}
    assert state.detail_type("SUCCESSFUL") == "Payment Succeeded"
