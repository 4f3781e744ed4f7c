"""`python -m local_stack` as a user runs it (a subprocess), with the samples in events/."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from typing import Any

from local_stack.template import PROJECT_ROOT

SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "local_stack", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "local")},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def output(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout)


def test_invoke_prints_the_result_like_sam() -> None:
    result = output(run("invoke", "CreatePaymentFunction", "--event", "events/create_payment.json"))
    assert result["statusCode"] == 201
    assert json.loads(result["body"])["status"] == "NEW"


def test_sign_event_signs_the_body_with_a_fresh_timestamp_and_invoke_accepts_it() -> None:
    signed = output(run("sign-event", "events/webhook_intake.json"))
    stamp, signature = signed["headers"]["x-timestamp"], signed["headers"]["x-signature"]
    expected = hmac.new(SIGNING_KEY.encode(), (stamp + signed["body"]).encode(), hashlib.sha256).hexdigest()
    assert signature == expected and stamp != "2026-01-15T10:30:00.000Z"

    result = output(run("invoke", "WebhookIntakeFunction", "-e", "-", stdin=json.dumps(signed)))
    assert result["statusCode"] == 200 and json.loads(result["body"])["matched"] is False


def test_invoke_reports_a_function_error_with_exit_1() -> None:
    completed = run("invoke", "CallbackRedirectFunction", "-e", "-", stdin="[]")  # not an API Gateway event
    assert completed.returncode == 1
    error = json.loads(completed.stdout)
    # Our HTTP adapter reads the event as a mapping (Powertools' resolver raised a TypeError here).
    assert error["errorType"] == "AttributeError" and error["stackTrace"]


def test_unknown_function_is_a_clear_error_before_anything_starts() -> None:
    # Given a valid set-up step before an unknown function, or before an unknown set-up function
    create = "CreatePaymentFunction=events/create_payment.json"
    unknown = run("invoke", "NoSuchFunction", "-e", "events/create_payment.json", "--setup", create)
    unknown_setup = run(
        "invoke",
        "PaymentStatusFunction",
        "-e",
        "events/payment_status.json",
        "--setup",
        create,
        "--setup",
        "NoSetup=x",
    )
    # Then each fails with exit 2 naming it, and no function ran: the stack never started
    assert unknown.returncode == 2 and "NoSuchFunction is not a function of template.yaml" in unknown.stderr
    assert (
        unknown_setup.returncode == 2 and "NoSetup is not a function of template.yaml" in unknown_setup.stderr
    )
    assert "START RequestId" not in unknown.stderr + unknown_setup.stderr


def test_invoke_runs_set_up_steps_in_the_order_given() -> None:
    # Given create → pay → fulfil → deliver as set-up steps, When the status is invoked after them
    completed = run(
        "invoke",
        "PaymentStatusFunction",
        "-e",
        "events/payment_status.json",
        "--setup",
        "CreatePaymentFunction=events/create_payment.json",
        "--settle",
        "pay",
        "--setup",
        "FulfilmentFunction=events/fulfilment.json",
        "--poll",
        "FulfilmentSenderFunction",
    )
    # Then the fulfilment was accepted (the payment was paid before it) and delivered (polled after it)
    body = json.loads(output(completed)["body"])
    assert body["status"] == "SUCCESSFUL" and body["fulfilment"]["status"] == "DELIVERED"
    steps = [
        line.split(" ", 2)[:2]
        for line in completed.stderr.splitlines()
        if line.startswith(("setup ", "settle ", "poll "))
    ]
    assert steps == [
        ["setup", "CreatePaymentFunction"],
        ["settle", steps[1][1]],
        ["setup", "FulfilmentFunction"],
        ["poll", "FulfilmentSenderFunction:"],
    ]
    assert '"statusCode": 202' in completed.stderr  # the fulfilment came after the payment was paid
