"""`python -m local_stack trigger SCENARIO` against a running stack: one test per scenario, each checking
the final status, the events the partner received, and what the trigger printed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT
from local_stack.triggers import SCENARIOS, Trigger

from tests.local.local_kit import running_stack

QUERY_INTERVAL = 1.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The bundle's template; open payments are due for a check every second (not 1, 2, 5... minutes after
    their creation: CHECK_SCHEDULE_SECONDS, read by every function that writes a status), a payment's second
    "Payment In Progress" waits 10 minutes (not 30 s: a slow machine must not tell a second step), and the webhook
    function queries a payment's status at most once a second (not every 15 s: the chargeback waits it out)."""
    env_vars = {
        # One "Payment In Progress" per payment whatever the machine's load (method.*: the first step only).
        "Parameters": {"CHECK_SCHEDULE_SECONDS": "1", "STEP_EVENT_MIN_INTERVAL_SECONDS": "600"},
        "WebhookIntakeFunction": {"STATUS_QUERY_MIN_INTERVAL_SECONDS": str(QUERY_INTERVAL)},
    }
    with running_stack(tmp_path_factory, "triggers", env_vars=env_vars) as running:
        yield running


def trigger(stack: LocalStack, scenario: str, **options: bool) -> tuple[str, str]:
    out = io.StringIO()
    reference = Trigger(stack.api_url, out, timeout=30, query_interval=QUERY_INTERVAL, **options).run(
        scenario
    )
    return reference, out.getvalue()


def partner_events(stack: LocalStack, reference: str) -> list[str]:
    return [
        event["detail-type"]
        for event in stack.published_events()
        if event["detail"].get("partnerReference") == reference
    ]


def test_payment_succeeded(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "payment.succeeded")
    assert partner_events(stack, reference) == ["Payment Succeeded"]
    assert f"GET /payments/{reference}: SUCCESSFUL" in printed
    assert "webhook SUCCESSFUL: delivered, answers [200]" in printed
    assert f"Payment Succeeded  eventId {reference}:SUCCESSFUL" in printed


def test_payment_failed(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "payment.failed")
    assert partner_events(stack, reference) == ["Payment Failed"]
    assert f"GET /payments/{reference}: FAILED" in printed


def test_payment_pending_then_succeeded(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "payment.pending-then-succeeded")
    assert partner_events(stack, reference) == ["Payment Pending", "Payment Succeeded"]
    assert printed.index("Payment Pending  eventId") < printed.index("Payment Succeeded  eventId")


def test_payment_abandoned(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "payment.abandoned")
    assert partner_events(stack, reference) == ["Payment Abandoned"]
    assert f"GET /payments/{reference}: ABANDONED" in printed


def test_webhook_lost_is_reconciled_by_the_poller(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "webhook.lost")
    assert partner_events(stack, reference) == ["Payment Succeeded"]
    assert "our record still says NEW" in printed and "StatusPollerFunction:" in printed
    assert "webhook SUCCESSFUL: dropped" in printed
    assert stack.sandbox is not None and stack.sandbox.control.faults()["webhook_drop_rate"] == 0  # put back


def test_webhook_duplicates_give_one_event(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "webhook.duplicates")
    assert partner_events(stack, reference) == ["Payment Succeeded"]
    assert "(a duplicate)" in printed
    assert stack.sandbox is not None and stack.sandbox.control.faults()["webhook_duplicate_rate"] == 0


def test_refund_succeeded(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "refund.succeeded")
    assert partner_events(stack, reference) == ["Payment Succeeded", "Refund Requested", "Refund Succeeded"]
    assert f"POST /payments/{reference}/refunds -> PENDING 50.00 ZAR (Pay1st R-" in printed
    assert f"GET /payments/{reference}: SUCCESSFUL" in printed
    assert f"refund {reference}-r1: SUCCESSFUL 50.00 ZAR" in printed
    assert "refunded 50.00, still refundable 200.50" in printed
    assert "refund webhook SUCCESSFUL: delivered, answers [200], outcome applied" in printed
    assert f"Refund Succeeded  eventId {reference}:refund:{reference}-r1:succeeded" in printed
    assert stack.sandbox is not None and stack.sandbox.control.faults()["refund_outcome"] == "SUCCESSFUL"


def test_chargeback(stack: LocalStack) -> None:
    reference, printed = trigger(stack, "chargeback")
    assert partner_events(stack, reference) == ["Payment Succeeded", "Payment Charged Back"]
    assert "waiting 1 s (STATUS_QUERY_MIN_INTERVAL_SECONDS)" in printed
    assert "webhook CHARGEBACK: delivered, answers [200], outcome reversed" in printed
    assert "chargeback: CHARGEBACK recorded at 20" in printed
    assert "refunded 0.00, still refundable 0.00" in printed
    assert f"Payment Charged Back  eventId {reference}:CHARGEBACK" in printed


def walked(stack: LocalStack, scenario: str, steps: list[str]) -> str:
    """Then the sandbox walked these steps (one line each, in order, with its delivered webhooks), the status
    route showed each in-progress step as it happened (the payment NEW, with that ``step``), the partner
    received one "Payment In Progress" (the first step: the next ones fall within the stack's interval) and
    one "Payment Succeeded", and the payment is SUCCESSFUL at the bundle; what was printed."""
    reference, printed = trigger(stack, scenario, status_route_shows_steps=True)
    assert partner_events(stack, reference) == ["Payment In Progress", "Payment Succeeded"]
    first = steps[0].split(" then ")[0]
    assert f"Payment In Progress  eventId {reference}:step:{first}  step {first}" in printed
    positions = [printed.index(f"step {number}: ") for number in range(1, len(steps) + 1)]
    assert positions == sorted(positions)
    for number, step in enumerate(steps, start=1):
        line = next(line for line in printed.splitlines() if line.startswith(f"step {number}: "))
        assert f"-> sandbox {step}; status route: " in line, line
        current = step.split(" then ")[-1]
        shown = "SUCCESSFUL" if current == "SUCCESSFUL" else f"NEW, step {current}"
        assert line.endswith(f"status route: {shown}"), line
    for status in " then ".join(steps).split(" then "):
        assert f"  webhook {status}: delivered, answers [200]" in printed
    assert f"GET /payments/{reference}: SUCCESSFUL" in printed
    return printed


def test_method_card_otp(stack: LocalStack) -> None:
    """Given the local stack, when a Nigerian customer pays with the Visa test card and its OTP, then the
    sandbox reports SEND_OTP then SUCCESSFUL and the bundle ends SUCCESSFUL."""
    printed = walked(stack, "method.card-otp", ["SEND_OTP", "SUCCESSFUL"])
    assert "step 1: choose channel 101, type 4084084084084081 -> sandbox SEND_OTP" in printed
    assert "step 2: type 123456 -> sandbox SUCCESSFUL" in printed


def test_method_card_pin(stack: LocalStack) -> None:
    walked(stack, "method.card-pin", ["SEND_PIN", "SUCCESSFUL"])


def test_method_wallet(stack: LocalStack) -> None:
    printed = walked(stack, "method.wallet", ["SEND_PHONE", "SEND_PIN", "SEND_OTP", "SUCCESSFUL"])
    assert "step 1: choose channel 503 -> sandbox SEND_PHONE" in printed


def test_method_bank_app(stack: LocalStack) -> None:
    walked(stack, "method.bank-app", ["SEND_PHONE", "SEND_VALIDATION_TOKEN", "SUCCESSFUL"])


def test_method_qr(stack: LocalStack) -> None:
    walked(stack, "method.qr", ["READY", "VALIDATED then SUCCESSFUL"])


def test_method_voucher(stack: LocalStack) -> None:
    printed = walked(stack, "method.voucher", ["PAY_OFFLINE", "SUCCESSFUL"])
    assert "step 2: the offline payment arrives -> sandbox SUCCESSFUL" in printed


def test_method_steps_on_the_status_route_are_checked_when_asked(stack: LocalStack) -> None:
    """Given status_route_shows_steps (CLI --status-route-shows-steps), when a method is walked, then each
    in-progress step must show on GET /payments/<ref>. Until issue 25 this bundle recorded the steps as an
    unknown status (the route showed NEW) and this test pinned the failure; the route now shows each step
    (``step``), so the check passes, and ``walked`` above passes the option for every method."""
    reference, printed = trigger(stack, "method.card-otp", status_route_shows_steps=True)
    assert (
        "step 1: choose channel 101, type 4084084084084081 -> sandbox SEND_OTP; status route: NEW, step SEND_OTP"
        in printed
    )
    assert f"GET /payments/{reference}: SUCCESSFUL" in printed


def test_every_scenario_has_its_test() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for scenario in SCENARIOS:
        assert any(scenario.replace(".", "_").replace("-", "_") in name for name in tested), scenario


def test_the_trigger_command_prints_the_story(stack: LocalStack) -> None:
    completed = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
        [sys.executable, "-m", "local_stack", "trigger", "payment.failed", "--api-url", stack.api_url],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "local")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.startswith("payment.failed: the payment fails at checkout")
    assert "events the partner received:\n  Payment Failed  eventId" in completed.stdout
