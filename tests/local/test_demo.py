"""`make demo` as a newcomer runs it: a subprocess, exit 0, one line per step of the payment; `demo --refund`
adds a refund of part of it, followed to `Refund Succeeded`."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from local_stack.demo import run_demo
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
REFUND_STEPS = ("refund", "webhook", "status", "event")


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


@pytest.mark.slow
def test_demo_refund_follows_the_payment_to_refund_succeeded() -> None:
    out = io.StringIO()
    assert run_demo(out, refund=True) == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    for number, step in enumerate(STEPS + REFUND_STEPS, start=1):
        assert any(line.strip().startswith(f"{number}. {step}") for line in lines), (step, out.getvalue())
    refund_lines = "\n".join(lines[len(STEPS) + 2 :])
    assert "/refunds -> 201 PENDING 50.00 ZAR (Pay1st R-" in refund_lines
    assert "(PENDING -> PROCESSING -> SUCCESSFUL)" in refund_lines
    assert "to /webhooks/pay1st/refunds: PROCESSING 200, SUCCESSFUL 200" in refund_lines
    assert "refund SUCCESSFUL; refunded 50.00, still refundable 200.50" in refund_lines
    assert "'Refund Succeeded' on bus" in refund_lines and ":refund:demo-" in refund_lines
    assert lines[-1].startswith("OK: payment flow")


def test_the_demo_command_offers_the_refund() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "local_stack", "demo", "--help"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "local")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0 and "--refund" in completed.stdout, completed.stderr
