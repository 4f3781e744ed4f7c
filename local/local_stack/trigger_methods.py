"""``trigger method.*``: one payment per method family (§14), walked step by step at the Pay1st sandbox.

Each scenario chooses a method and types what the customer would (a test card, an OTP, a phone number...)
through the sandbox's control API (``POST /_sandbox/payments/<ref>/steps``, the same engine as its hosted
page). After every step it reports the statuses the sandbox announced, how each webhook was answered, and
what the partner's status route shows; it fails when the sandbox reports other statuses than the family's.
What the bundle must show meanwhile is the caller's ``on_step`` check (see ``Trigger``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pay1st_sandbox.client import SandboxControl

SETTLE_OFFLINE = "(the money arrives)"  # an input that is not typed: the offline payment settles


@dataclass(frozen=True)
class MethodScenario:
    description: str
    country_code: str
    currency_code: str
    channel_id: int
    # What the customer does at each step: the first chooses the method (a card's number is typed with it),
    # None is a press with nothing typed (choose a wallet, approve a QR code), SETTLE_OFFLINE the money arriving.
    inputs: tuple[str | None, ...]
    statuses: tuple[str, ...]  # what the sandbox must announce, in order (the last one SUCCESSFUL)


METHOD_SCENARIOS = {
    "method.card-otp": MethodScenario(
        "a Nigerian Visa test card, then its OTP",
        "NG",
        "NGN",
        101,
        ("4084084084084081", "123456"),
        ("SEND_OTP", "SUCCESSFUL"),
    ),
    "method.card-pin": MethodScenario(
        "a South African Mastercard test card that asks its PIN",
        "ZA",
        "ZAR",
        201,
        ("5200000000000007", "1234"),
        ("SEND_PIN", "SUCCESSFUL"),
    ),
    "method.wallet": MethodScenario(
        "Vodafone wallet in Egypt: phone number, PIN, then OTP",
        "EG",
        "EGP",
        503,
        (None, "+201000000001", "123456", "123456"),
        ("SEND_PHONE", "SEND_PIN", "SEND_OTP", "SUCCESSFUL"),
    ),
    "method.bank-app": MethodScenario(
        "Kuda Bank in Nigeria: phone number, then the PayID the app shows",
        "NG",
        "NGN",
        105,
        (None, "+2348100000001", "KUDA-123456"),
        ("SEND_PHONE", "SEND_VALIDATION_TOKEN", "SUCCESSFUL"),
    ),
    "method.qr": MethodScenario(
        "OPay QR in Nigeria: the code is shown, the app approves it",
        "NG",
        "NGN",
        108,
        (None, None),
        ("READY", "VALIDATED", "SUCCESSFUL"),
    ),
    "method.voucher": MethodScenario(
        "a South African voucher, paid offline and settled later",
        "ZA",
        "ZAR",
        203,
        (None, SETTLE_OFFLINE),
        ("PAY_OFFLINE", "SUCCESSFUL"),
    ),
}


class StepsFailed(Exception):
    """The sandbox did not walk the method's steps as the scenario says."""


@dataclass(frozen=True)
class StepSeen:
    number: int
    did: str  # what the customer did
    statuses: tuple[str, ...]  # what the sandbox announced for it
    webhooks: tuple[str, ...]  # one line per status: delivery state, answers, the bundle's outcome


def walk_steps(
    control: SandboxControl,
    pay1st: str,
    scenario: MethodScenario,
    on_step: Callable[[StepSeen], None],
    *,
    outcome_of: Callable[[Any], str | None],
) -> list[str]:
    """Take every step, call ``on_step`` after each (its webhooks delivered); the statuses announced."""
    announced: list[str] = []
    for number, value in enumerate(scenario.inputs, start=1):
        before = len(control.payment(pay1st)["history"])
        if value == SETTLE_OFFLINE:
            control.settle(pay1st, "settle-offline")
            did = "the offline payment arrives"
        elif number == 1:
            control.step(pay1st, channel_id=scenario.channel_id, value=value)
            did = f"choose channel {scenario.channel_id}" + (f", type {value}" if value else "")
        else:
            control.step(pay1st, value=value)
            did = f"type {value}" if value is not None else "press (nothing to type)"
        control.flush_webhooks(timeout=15)
        statuses = tuple(entry["status"] for entry in control.payment(pay1st)["history"][before:])
        announced.extend(statuses)
        on_step(StepSeen(number, did, statuses, _webhooks(control, pay1st, statuses, outcome_of)))
    sent = [
        d["status"]
        for d in control.webhook_deliveries()
        if d.get("reference") == pay1st and not d.get("duplicateOf")
    ]
    for what, seen in (("announced", announced), ("sent webhooks for", sent)):
        if seen != list(scenario.statuses):
            raise StepsFailed(f"the sandbox {what} {seen}, the scenario expects {list(scenario.statuses)}")
    return announced


def _webhooks(
    control: SandboxControl, pay1st: str, statuses: tuple[str, ...], outcome_of: Callable[[Any], str | None]
) -> tuple[str, ...]:
    lines = []
    deliveries = [d for d in control.webhook_deliveries() if d.get("reference") == pay1st]
    for status in statuses:
        delivery = next((d for d in reversed(deliveries) if d.get("status") == status), None)
        if delivery is None:
            lines.append(f"webhook {status}: none")
            continue
        attempts = delivery.get("attempts") or []
        outcome = outcome_of(attempts[-1].get("responseBody")) if attempts else None
        lines.append(
            f"webhook {status}: {delivery.get('state')}, answers {[a.get('statusCode') for a in attempts]}"
            + (f", outcome {outcome}" if outcome else "")
        )
    return tuple(lines)
