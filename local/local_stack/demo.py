"""``make demo``: one complete payment end to end over real HTTP, told one line per step.

It plays every outside party as it would really behave: the partner's backend (create, status, fulfilment),
the customer's browser (checkout page, pay button, redirects) and the partner's fulfilment service (reads the
"Payment Succeeded" event). The gateway is the Pay1st sandbox; the bundle runs as template.yaml declares it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import urllib3
from pay1st_partner_client import FulfilledProduct, Pay1stPartnerError, Product

from local_stack.partner import partner_client
from local_stack.stack import LocalStack, StackOptions

FULFILMENT_FUNCTION = "FulfilmentSenderFunction"


class DemoFailed(Exception):
    """A step did not show what a working bundle shows."""


@dataclass
class CheckoutForm:
    """The hosted page's form, as a browser would submit it when one button is pressed."""

    action: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (name, value)
    summary: str = ""


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = CheckoutForm()
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._in_form = True
            self.form.action = attributes.get("action", "")
        elif self._in_form and tag == "input":
            kind = attributes.get("type", "text")
            if kind == "hidden" or (
                kind == "radio" and "checked" in attributes and "disabled" not in attributes
            ):
                self.form.fields[attributes.get("name", "")] = attributes.get("value", "")
        elif self._in_form and tag == "button" and "id" in attributes:
            self.form.buttons[attributes["id"]] = (attributes.get("name", ""), attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def parse_checkout_form(page: str) -> CheckoutForm:
    parser = _FormParser()
    parser.feed(page)
    return parser.form


class Demo:
    """The steps, each printing one line; raises DemoFailed with what was seen instead."""

    def __init__(self, stack: LocalStack, out: IO[str]) -> None:
        self.stack = stack
        self.out = out
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))
        self.step_number = 0
        self._last = time.perf_counter()

    def step(self, name: str, text: str) -> None:
        self.step_number += 1
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        self.out.write(f"{self.step_number:>3}. {name:<9} {text}  [{elapsed:.2f} s]\n")
        self.out.flush()

    def request(self, method: str, url: str, body: Any = None, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        if body is not None and not isinstance(body, (bytes, str)):
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
            body = json.dumps(body)
        return self.http.request(method, url, body=body, redirect=False, **kwargs)

    def expect(self, response: urllib3.BaseHTTPResponse, status: int, what: str) -> Any:
        if response.status != status:
            raise DemoFailed(
                f"{what}: expected HTTP {status}, got {response.status}: {response.data[:300]!r}"
            )
        content_type = response.headers.get("Content-Type", "")
        return json.loads(response.data) if "json" in content_type and response.data else response.data

    def run(self) -> str:
        sandbox = self.stack.sandbox
        if sandbox is None:
            raise DemoFailed("the demo needs the Pay1st sandbox")
        control = sandbox.control
        partner_reference = f"demo-{uuid.uuid4().hex[:12]}"
        client = partner_client(self.stack)  # the partner's backend: the bundle's own client, signing
        try:
            created = client.create_payment(
                partner_reference,
                amount="250.50",
                currency_code="ZAR",
                country_code="ZA",
                products=[Product("500 Gems", "GEM-500", "250.50", 1, currency_code="ZAR")],
                metadata={"playerId": "p-42"},
            )
        except Pay1stPartnerError as exc:
            raise DemoFailed(f"create: {exc}") from exc
        reference, checkout_url = created.reference, created.checkout_url
        if not checkout_url:
            raise DemoFailed(f"create: no checkout link in {created}")
        self.step(
            "create",
            f"POST /payments -> 201 {created.status}, {partner_reference} is Pay1st {reference}; checkout link received",
        )

        page = self.expect(self.request("GET", checkout_url), 200, "checkout page").decode("utf-8")
        form = parse_checkout_form(page)
        if "pay" not in form.buttons:
            raise DemoFailed("checkout page: no #pay button")
        self.step(
            "checkout",
            f"GET {urlsplit(checkout_url).path} (hosted page) -> 200, ZAR 250.50 GEM-500 x1, buttons: {', '.join(form.buttons)}",
        )

        name, value = form.buttons["pay"]
        fields = {**form.fields, name: value}
        pressed = self.request(
            "POST", urljoin(checkout_url, form.action), fields=fields, encode_multipart=False
        )
        if pressed.status not in (302, 303):
            raise DemoFailed(f"pay: expected a redirect, got {pressed.status}: {pressed.data[:300]!r}")
        callback = pressed.headers["Location"]
        self.step("pay", f"press #pay -> {pressed.status} to our callback {urlsplit(callback).path}")

        redirect = self.request("GET", callback)
        if redirect.status != 302:
            raise DemoFailed(f"callback: expected 302, got {redirect.status}: {redirect.data[:300]!r}")
        result_url = redirect.headers["Location"]
        self.step(
            "callback",
            f"GET {urlsplit(callback).path} -> 302 to the result page ({urlsplit(result_url).query})",
        )

        control.flush_webhooks(timeout=15)
        deliveries = [d for d in control.webhook_deliveries() if d.get("reference") == reference]
        self.step("webhook", f"sandbox sent the signed webhook: {self._describe_deliveries(deliveries)}")

        try:
            status = client.get_payment(partner_reference).status
        except Pay1stPartnerError as exc:
            raise DemoFailed(f"payment status: {exc}") from exc
        counters = control.counters()
        queries = counters.get("GET /api/pay1st/payments", 0)
        if status != "SUCCESSFUL":
            raise DemoFailed(f"status: expected SUCCESSFUL, got {status}")
        if not queries:
            raise DemoFailed("status: the webhook was applied without a status query to the gateway")
        self.step(
            "status",
            f"GET /payments/{partner_reference} -> SUCCESSFUL "
            f"(the webhook was confirmed with {queries} status {'query' if queries == 1 else 'queries'} to Pay1st)",
        )

        result_page = self.expect(self.request("GET", result_url), 200, "result page").decode("utf-8")
        if "SUCCESSFUL" not in result_page:
            raise DemoFailed("result page does not show SUCCESSFUL")
        self.step("result", f"GET {urlsplit(result_url).path} -> the customer sees SUCCESSFUL")

        event = self._wait_for(
            lambda: next(
                (
                    e
                    for e in self.stack.published_events(wait_seconds=1)
                    if e.get("detail-type") == "Payment Succeeded"
                    and e.get("detail", {}).get("partnerReference") == partner_reference
                ),
                None,
            ),
            "a 'Payment Succeeded' event on the bus",
        )
        self.step(
            "event",
            f"'Payment Succeeded' on bus {self.stack.provisioned.refs.get('PaymentEventsBus', '?')} "
            f"(eventId {event['detail'].get('eventId')})",
        )

        fulfilled_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        try:
            receipt = client.report_fulfilment(
                partner_reference, [FulfilledProduct("GEM-500", 1, "FULFILLED", fulfilled_at)]
            )
        except Pay1stPartnerError as exc:
            raise DemoFailed(f"fulfilment: {exc}") from exc
        self.step(
            "fulfil", f"POST /payments/{partner_reference}/fulfilment -> 202 {receipt.fulfilment_status}"
        )

        outcome = self.stack.poll_queue(FULFILMENT_FUNCTION)
        if outcome.received == 0 or outcome.failed:
            raise DemoFailed(f"fulfilment sender: {outcome}")
        self.step(
            "deliver",
            f"FulfilmentQueue (SQS) -> {FULFILMENT_FUNCTION}: {outcome.received} message, {outcome.failed} failures",
        )

        received = [f for f in control.fulfilments() if f.get("reference") == reference]
        if not received:
            raise DemoFailed("the sandbox has not received the fulfilment")
        products = received[-1].get("products", [])
        described = ", ".join(
            f"{p.get('sku')} x{p.get('quantity')} {p.get('fulfilmentStatus')}" for p in products
        )
        self.step("gateway", f"Pay1st sandbox received the fulfilment for {reference}: {described}")
        return partner_reference

    @staticmethod
    def _describe_deliveries(deliveries: Sequence[Mapping[str, Any]]) -> str:
        if not deliveries:
            raise DemoFailed("the sandbox delivered no webhook for this payment")
        last = deliveries[-1]
        attempts = last.get("attempts") or []
        code = attempts[-1].get("statusCode") if attempts else None
        if code is None or not 200 <= int(code) < 300:
            raise DemoFailed(f"the webhook was not accepted: {last.get('state')}, last answer {code}")
        return f"{last.get('status')} event, answered {code} after {len(attempts)} attempt(s)"

    @staticmethod
    def _wait_for(probe: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = probe()
            if found is not None:
                return found
        raise DemoFailed(f"timed out waiting for {what}")


def run_demo(out: IO[str] = sys.stdout, *, template_path: Path | None = None, refund: bool = False) -> int:
    """Start the stack on free ports, run the payment (and with ``refund`` a refund of part of it), print each
    step and the timings; 0 when it all worked."""
    started = time.perf_counter()
    log_path = Path(tempfile.gettempdir()) / f"pay1st-demo-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with open(log_path, "w", encoding="utf-8") as function_log:
        options = StackOptions(
            api_port=0,
            moto_port=0,
            sandbox_port=0,
            function_log=function_log,
            prewarm=True,
            event_sources=False,  # the demo runs the queue itself, so each step is visible
        )
        if template_path is not None:
            options.template_path = template_path
        out.write(
            "Pay1st partner bundle: one payment end to end, locally (moto + Pay1st sandbox, no Docker)\n"
        )
        stack = LocalStack(options)
        try:
            stack.start()
            setup = time.perf_counter() - started
            assert stack.sandbox is not None
            out.write(
                f"  stack up in {setup:.1f} s: API {stack.api_url}, Pay1st sandbox {stack.sandbox.base_url}, "
                f"moto {stack.endpoint_url}; {len(stack.functions)} functions, {len(stack.routes)} routes\n"
            )
            flow_started = time.perf_counter()
            demo = Demo(stack, out)
            partner_reference = demo.run()
            if refund:
                from local_stack.demo_refund import refund_steps

                refund_steps(demo, partner_reference)
            flow = time.perf_counter() - flow_started
        except DemoFailed as exc:
            out.write(f"FAILED: {exc}\n  function logs: {log_path}\n")
            return 1
        finally:
            stack.stop()
    total = time.perf_counter() - started
    out.write(
        f"OK: payment flow {flow:.1f} s, stack start-up {setup:.1f} s, total {total:.1f} s "
        f"(function logs: {log_path})\n"
    )
    return 0
