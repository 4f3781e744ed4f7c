"""`make demo` as a newcomer runs it: a subprocess, exit 0, one line per step of the payment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from local_stack.template import PROJECT_ROOT

STEPS = (
    "create",
    "checkout",
    "pay",
    "callback",
    "webhook",
    "status",
    "result",
    "event",
    "fulfil",
    "deliver",
    "gateway",
)


@pytest.mark.slow
def test_demo_runs_one_payment_end_to_end() -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "local")}
    completed = subprocess.run(
        [sys.executable, "-m", "local_stack", "demo"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    for number, step in enumerate(STEPS, start=1):
        assert any(line.strip().startswith(f"{number}. {step}") for line in lines), (step, completed.stdout)
    assert "SUCCESSFUL" in completed.stdout
    assert lines[-1].startswith("OK: payment flow")
