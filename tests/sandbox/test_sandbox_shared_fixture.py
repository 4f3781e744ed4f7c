"""The project-wide `sandbox` fixture (tests/conftest.py) starts this sandbox and points the functions at it."""

from __future__ import annotations

import os

from pay1st_sandbox import SandboxServer


def test_shared_fixture_runs_the_sandbox(sandbox: SandboxServer) -> None:
    assert os.environ["PAY1ST_API_BASE_URL"] == sandbox.base_url == os.environ["PAY1ST_PAY_BASE_URL"]
    assert sandbox.control.health()
