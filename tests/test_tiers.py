"""The test tiers follow from what a test runs on (tests/conftest.py), so ``make test-fast`` stays fast."""

from __future__ import annotations

from typing import Any

import pytest


def test_a_test_of_pure_logic_is_in_the_unit_tier(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None


def test_a_test_on_moto_is_in_the_integration_tier(aws: Any, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is not None
    assert request.node.get_closest_marker("unit") is None
