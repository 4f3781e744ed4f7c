"""``python -m local_stack trigger SCENARIO``: play one payment story against a running local stack, like
``stripe trigger``, and print what happened and the events the partner received.

Each scenario creates a payment through the partner client (signed as the stack requires), drives the
Pay1st sandbox (a checkout button, a fault on its webhooks, a refund's outcome, a chargeback, or a method's
steps one by one: ``method.*``, :mod:`local_stack.trigger_methods`) through its control API, and then waits
for the events the partner's EventBridge rule receives (the runner's ``/_local/events``). Faults set for a
scenario are put back as they were afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import urllib3
from pay1st_partner_client import BearerAuth, PartnerClient, Payment, Product, SigV4Auth
from pay1st_sandbox.client import SandboxControl

from local_stack.own_routes import EVENTS_PATH, INFO_PATH, SCHEDULES_PREFIX
from local_stack.partner_auth import local_credentials
from local_stack.partner_cli import DEFAULT_API_URL
from local_stack.template import load_template
from local_stack.trigger_methods import METHOD_SCENARIOS, MethodScenario, StepSeen, StepsFailed, walk_steps

POLLER = "StatusPollerFunction"
REFUND_AMOUNT = "50.00"


@dataclass(frozen=True)
class Scenario:
    description: str
    final_status: str
    events: tuple[str, ...]  # detail-types the partner must receive, in this order


SCENARIOS = {
    "payment.succeeded": Scenario("the customer pays", "SUCCESSFUL", ("Payment Succeeded",)),
    "payment.failed": Scenario("the payment fails at checkout", "FAILED", ("Payment Failed",)),
    "payment.pending-then-succeeded": Scenario(
        "the customer pays offline (PENDING), the money arrives later",
        "SUCCESSFUL",
        ("Payment Pending", "Payment Succeeded"),
    ),
    "payment.abandoned": Scenario("the checkout session expires unused", "ABANDONED", ("Payment Abandoned",)),
    "webhook.lost": Scenario(
        "the customer pays, Pay1st's webhook is lost; the status poller reconciles",
        "SUCCESSFUL",
        ("Payment Succeeded",),
    ),
    "webhook.duplicates": Scenario(
        "the customer pays, Pay1st sends the webhook twice; one event only",
        "SUCCESSFUL",
        ("Payment Succeeded",),
    ),
    "refund.succeeded": Scenario(
        "the customer pays, the partner refunds part of it, Pay1st settles the refund",
        "SUCCESSFUL",
        ("Payment Succeeded", "Refund Requested", "Refund Succeeded"),
    ),
    "chargeback": Scenario(
        "the customer pays, then disputes the payment at their bank; Pay1st reports a chargeback",
        "SUCCESSFUL",  # it was paid: the chargeback is recorded beside SUCCESSFUL
        ("Payment Succeeded", "Payment Charged Back"),
    ),
}
# A method walked step by step (§14): the first in-progress step is told ("Payment In Progress"; the next ones
# fall within STEP_EVENT_MIN_INTERVAL_SECONDS, 30 s in the template, and are only shown on the status route);
# the payment is paid.
SCENARIOS.update(
    {
        name: Scenario(m.description, "SUCCESSFUL", ("Payment In Progress", "Payment Succeeded"))
        for name, m in METHOD_SCENARIOS.items()
    }
)


def template_query_interval() -> float:
    """The template's ``STATUS_QUERY_MIN_INTERVAL_SECONDS`` (one status query per payment per interval)."""
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    return float(variables["STATUS_QUERY_MIN_INTERVAL_SECONDS"])


class TriggerFailed(Exception):
    """The stack did not behave as the scenario says a working bundle does."""


class Trigger:
    def __init__(
        self,
        api_url: str,
        out: IO[str],
        timeout: float = 30.0,
        *,
        query_interval: float | None = None,
        status_route_shows_steps: bool = False,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        # Whether the partner's status route must show each in-progress step (method.*) as it happens (its
        # ``step``); a bundle that records them only as an unknown status shows the last known status alone.
        self.status_route_shows_steps = status_route_shows_steps
        self.out = out
        self.timeout = timeout
        # The running functions' STATUS_QUERY_MIN_INTERVAL_SECONDS (the chargeback waits it out).
        self.query_interval = template_query_interval() if query_interval is None else query_interval
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=60))
        info = self._local("GET", INFO_PATH)
        if not info.get("sandboxUrl"):
            raise TriggerFailed("this local stack runs without the Pay1st sandbox")
        self.control = SandboxControl(str(info["sandboxUrl"]))
        self.client = PartnerClient(self.api_url, self._auth(str(info["partnerAuth"]), str(info["region"])))

    def run(self, name: str) -> str:
        scenario = SCENARIOS[name]
        reference = f"trigger-{name.replace('.', '-')}-{uuid.uuid4().hex[:8]}"
        self.say(f"{name}: {scenario.description}")
        method = METHOD_SCENARIOS.get(name)
        created = self.client.create_payment(
            reference,
            amount="250.50",
            currency_code=method.currency_code if method else "ZAR",
            country_code=method.country_code if method else "ZA",
            products=[Product("500 Gems", "GEM-500", "250.50", 1)],
        )
        pay1st = str(created.reference)
        self.say(f"created {reference} (Pay1st {pay1st}): {created.status}")
        actions: dict[str, Callable[[], None]] = {
            "payment.succeeded": lambda: self.settle(pay1st, "pay"),
            "payment.failed": lambda: self.settle(pay1st, "fail"),
            "payment.abandoned": lambda: self.settle(pay1st, "abandon"),
            "payment.pending-then-succeeded": lambda: self._pending_then_paid(reference, pay1st),
            "webhook.lost": lambda: self._lost_webhook(reference, pay1st),
            "webhook.duplicates": lambda: self.with_faults({"webhook_duplicate_rate": 1.0}, pay1st, "pay"),
            "refund.succeeded": lambda: self._refund(reference, pay1st),
            "chargeback": lambda: self._chargeback(reference, pay1st),
        }
        if method is not None:
            self._steps(reference, pay1st, method)
        else:
            actions[name]()
        events = self.wait_for_events(reference, scenario.events)
        self.control.flush_webhooks(timeout=15)
        payment = self.client.get_payment(reference)
        status = payment.status
        self.say(f"GET /payments/{reference}: {status}")
        self.describe_reversals(payment)
        self.describe_webhooks(pay1st)
        self.say("events the partner received:")
        for event in events:
            step = event["detail"].get("step")
            self.say(
                f"  {event['detail-type']}  eventId {event['detail'].get('eventId')}"
                + (f"  step {step}" if step else "")
            )
        if status != scenario.final_status:
            raise TriggerFailed(f"expected {scenario.final_status}, the payment is {status}")
        return reference

    # ----------------------------------------------------------------------------------------------- steps
    def settle(self, pay1st: str, outcome: str) -> None:
        self.control.settle(pay1st, outcome)
        self.control.flush_webhooks(timeout=15)
        self.say(f"sandbox: pressed '{outcome}' and delivered its webhooks")

    def with_faults(self, faults: dict[str, Any], pay1st: str, outcome: str) -> None:
        before = self.control.faults()
        self.control.set_faults(**faults)
        self.say(f"sandbox faults: {json.dumps(faults)}")
        try:
            self.settle(pay1st, outcome)
        finally:
            self.control.clear_faults()
            self.control.set_faults(**before)

    def _pending_then_paid(self, reference: str, pay1st: str) -> None:
        self.settle(pay1st, "offline")
        self.wait_for_events(reference, ("Payment Pending",))
        self.say("partner received 'Payment Pending'; the offline payment settles now")
        self.settle(pay1st, "settle-offline")

    def _steps(self, reference: str, pay1st: str, scenario: MethodScenario) -> None:
        def on_step(step: StepSeen) -> None:
            payment = self.client.get_payment(reference)
            shown = payment.status + (f", step {payment.step}" if payment.step else "")
            self.say(
                f"step {step.number}: {step.did} -> sandbox {' then '.join(step.statuses)}; status route: {shown}"
            )
            for line in step.webhooks:
                self.say(f"  {line}")
            current = step.statuses[-1]
            final = current == scenario.statuses[-1]
            if self.status_route_shows_steps and not final and current not in (payment.step, payment.status):
                raise TriggerFailed(f"step {step.number}: the status route shows {shown}, not {current}")

        try:
            walk_steps(self.control, pay1st, scenario, on_step, outcome_of=_outcome)
        except StepsFailed as exc:
            raise TriggerFailed(str(exc)) from exc
        self.say(f"sandbox: {' -> '.join(scenario.statuses)}, each with its webhook")

    def _lost_webhook(self, reference: str, pay1st: str) -> None:
        self.with_faults({"webhook_drop_rate": 1.0}, pay1st, "pay")
        self.say(
            f"our record still says {self.client.get_payment(reference).status}; running the status poller "
            "(it checks open payments when due: CHECK_SCHEDULE_SECONDS, 60 s after creation in the template)"
        )
        deadline = time.monotonic() + self.timeout
        while self._events(reference) == [] and time.monotonic() < deadline:
            result = self._local("POST", f"{SCHEDULES_PREFIX}{POLLER}")
            self.say(f"{POLLER}: {json.dumps(result)}")
            time.sleep(1.0)

    def _refund(self, reference: str, pay1st: str) -> None:
        self.settle(pay1st, "pay")
        self.wait_for_events(reference, ("Payment Succeeded",))
        before = self.control.faults()
        self.control.set_faults(refund_outcome="SUCCESSFUL")  # whatever outcome the sandbox was set to
        try:
            refund = self.client.refund(reference, f"{reference}-r1", amount=REFUND_AMOUNT, reason="trigger")
            self.say(
                f"POST /payments/{reference}/refunds -> {refund.status} {refund.amount} {refund.currency_code} "
                f"(Pay1st {refund.pay1st_refund_reference}, {refund.handling_type})"
            )
            self.say(
                "sandbox: settles the refund by itself (PROCESSING, SUCCESSFUL) and sends refund webhooks"
            )
            self.wait_for_events(reference, SCENARIOS["refund.succeeded"].events)
        finally:
            self.control.set_faults(refund_outcome=before.get("refund_outcome", "SUCCESSFUL"))

    def _chargeback(self, reference: str, pay1st: str) -> None:
        self.settle(pay1st, "pay")
        self.wait_for_events(reference, ("Payment Succeeded",))
        # The payment's confirming status query was just made; the bundle allows one per interval, and a
        # real dispute comes days later. Raised within the interval, the confirmation would be rationed.
        if self.query_interval > 0:
            self.say(
                f"waiting {self.query_interval:g} s (STATUS_QUERY_MIN_INTERVAL_SECONDS): disputes come later"
            )
            time.sleep(self.query_interval + 0.5)
        self.control.chargeback(pay1st)
        self.control.flush_webhooks(timeout=15)
        self.say("sandbox: chargeback raised (payment webhook CHARGEBACK; its status query says CHARGEBACK)")
        answers = [
            _outcome(attempt.get("responseBody"))
            for delivery in self.control.webhook_deliveries()
            if delivery.get("reference") == pay1st and delivery.get("status") == "CHARGEBACK"
            for attempt in delivery.get("attempts") or []
        ]
        if "query_throttled" in answers:
            raise TriggerFailed(
                "the CHARGEBACK webhook was answered query_throttled: its confirming status query fell within "
                "the stack's STATUS_QUERY_MIN_INTERVAL_SECONDS (pass it as --query-interval)"
            )

    # ---------------------------------------------------------------------------------------------- report
    def wait_for_events(self, reference: str, wanted: tuple[str, ...]) -> list[dict[str, Any]]:
        deadline = time.monotonic() + self.timeout
        while True:
            events = self._events(reference)
            if [event["detail-type"] for event in events] == list(wanted):
                return events
            if time.monotonic() > deadline:
                got = [event["detail-type"] for event in events]
                raise TriggerFailed(f"expected the events {list(wanted)}, the partner received {got}")
            time.sleep(0.3)

    def describe_webhooks(self, pay1st: str) -> None:
        refunds = {
            str(r["refundReference"])
            for r in self.control.refunds()
            if r.get("paymentReference") == pay1st  # whichever reference the refund named (§15)
        }
        for delivery in self.control.webhook_deliveries():
            kind = "refund webhook" if delivery.get("reference") in refunds else "webhook"
            if delivery.get("reference") != pay1st and kind == "webhook":
                continue
            attempts = delivery.get("attempts") or []
            answers = [attempt.get("statusCode") for attempt in attempts]
            duplicate = " (a duplicate)" if delivery.get("duplicateOf") else ""
            outcome = _outcome(attempts[-1].get("responseBody")) if attempts else None
            self.say(
                f"{kind} {delivery.get('status')}: {delivery.get('state')}{duplicate}, answers {answers}"
                + (f", outcome {outcome}" if outcome else "")
            )

    def describe_reversals(self, payment: Payment) -> None:
        for refund in payment.refunds:
            self.say(
                f"  refund {refund.refund_reference}: {refund.status} {refund.amount} {refund.currency_code}"
            )
        if payment.refunds or payment.chargeback or payment.full_refund:
            self.say(f"  refunded {payment.refunded_amount}, still refundable {payment.refundable_amount}")
        for name, reversal in (("chargeback", payment.chargeback), ("full refund", payment.full_refund)):
            if reversal is not None:
                self.say(f"  {name}: {reversal.status} recorded at {reversal.recorded_at}")

    def say(self, text: str) -> None:
        self.out.write(f"{text}\n")
        self.out.flush()

    # ------------------------------------------------------------------------------------------- plumbing
    def _events(self, reference: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._local("GET", f"{EVENTS_PATH}?partnerReference={reference}")
        return events

    def _local(self, method: str, path: str) -> Any:
        response = self.http.request(method, f"{self.api_url}{path}")
        if response.status != 200:
            raise TriggerFailed(f"{method} {path}: {response.status} {response.data[:200]!r}")
        return json.loads(response.data)

    def _auth(self, partner_auth: str, region: str) -> Any:
        if partner_auth == "AWS_IAM":
            return SigV4Auth(region, credentials=local_credentials())
        if partner_auth == "NONE":
            from local_stack.partner import NoAuth

            return NoAuth()
        token: Callable[[], str] = lambda: self._local("POST", "/_local/issuer/token")["access_token"]  # noqa: E731
        return BearerAuth(token)


def _outcome(body: Any) -> str | None:
    """The bundle's webhook answer's ``outcome`` (applied, duplicate, query_throttled, ...), if it has one."""
    try:
        answer = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return None
    return str(answer["outcome"]) if isinstance(answer, dict) and "outcome" in answer else None


def cmd_trigger(args: argparse.Namespace) -> int:
    try:
        Trigger(
            args.api_url,
            sys.stdout,
            timeout=args.timeout,
            query_interval=args.query_interval,
            status_route_shows_steps=args.status_route_shows_steps,
        ).run(args.scenario)
    except (TriggerFailed, urllib3.exceptions.HTTPError) as exc:
        sys.stderr.write(f"FAILED: {exc}\n")
        return 1
    return 0


def add_trigger_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trigger = commands.add_parser(
        "trigger", help="play a payment scenario against a running local stack, like `stripe trigger`"
    )
    trigger.add_argument("scenario", choices=sorted(SCENARIOS))
    trigger.add_argument("--api-url", default=DEFAULT_API_URL, help="the running local API (start-api/serve)")
    trigger.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each outcome")
    trigger.add_argument(
        "--query-interval",
        type=float,
        default=None,
        help="the stack's STATUS_QUERY_MIN_INTERVAL_SECONDS if overridden (chargeback waits it out)",
    )
    trigger.add_argument(
        "--status-route-shows-steps",
        action="store_true",
        help="method.*: fail unless GET /payments/<ref> shows each in-progress step (its `step`: SEND_OTP, ...)",
    )
    trigger.set_defaults(handler=cmd_trigger)
