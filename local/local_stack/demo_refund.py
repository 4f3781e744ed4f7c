"""``python -m local_stack demo --refund``: after the demo's payment, refund part of it, told like the demo.

The partner's backend asks for the refund (the bundle's client, signed), the Pay1st sandbox settles it by
itself a moment later and announces each step with a signed refund webhook to the bundle's refund route, and
the partner's fulfilment service reads the ``Refund Succeeded`` event from the bus.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pay1st_partner_client import Pay1stPartnerError

from local_stack.partner import partner_client

if TYPE_CHECKING:
    from local_stack.demo import Demo

REFUND_AMOUNT = "50.00"


def refund_steps(demo: Demo, partner_reference: str) -> None:
    """Refund ``REFUND_AMOUNT`` of the demo's paid payment and follow it to ``Refund Succeeded``."""
    from local_stack.demo import DemoFailed

    stack = demo.stack
    assert stack.sandbox is not None
    control = stack.sandbox.control
    client = partner_client(stack)
    refund_reference = f"{partner_reference}-refund-1"
    try:
        refund = client.refund(partner_reference, refund_reference, amount=REFUND_AMOUNT, reason="demo")
    except Pay1stPartnerError as exc:
        raise DemoFailed(f"refund: {exc}") from exc
    demo.step(
        "refund",
        f"POST /payments/{partner_reference}/refunds -> 201 {refund.status} {refund.amount} "
        f"{refund.currency_code} (Pay1st {refund.pay1st_refund_reference}, {refund.handling_type})",
    )

    pay1st_refund = str(refund.pay1st_refund_reference)
    held = _wait(lambda: _settled(control.refunds(), pay1st_refund), "the sandbox to settle the refund")
    control.flush_webhooks(timeout=15)
    deliveries = [d for d in control.webhook_deliveries() if d.get("reference") == pay1st_refund]
    answers = ", ".join(f"{d.get('status')} {_last_answer(d)}" for d in deliveries)
    if not deliveries or any(not str(_last_answer(d)).startswith("2") for d in deliveries):
        raise DemoFailed(f"refund webhooks not accepted: {answers or 'none sent'}")
    demo.step(
        "webhook",
        f"sandbox settled the refund ({' -> '.join(h['status'] for h in held['history'])}) and sent signed "
        f"refund webhooks to /webhooks/pay1st/refunds: {answers}",
    )

    try:
        payment = client.get_payment(partner_reference)
    except Pay1stPartnerError as exc:
        raise DemoFailed(f"payment status: {exc}") from exc
    recorded = next((r for r in payment.refunds if r.refund_reference == refund_reference), None)
    if recorded is None or recorded.status != "SUCCESSFUL":
        raise DemoFailed(f"status: expected the refund SUCCESSFUL, got {recorded}")
    demo.step(
        "status",
        f"GET /payments/{partner_reference} -> {payment.status}, refund {recorded.status}; "
        f"refunded {payment.refunded_amount}, still refundable {payment.refundable_amount}",
    )

    event = _wait(
        lambda: next(
            (
                e
                for e in stack.published_events(wait_seconds=1)
                if e.get("detail-type") == "Refund Succeeded"
                and e.get("detail", {}).get("refundReference") == refund_reference
            ),
            None,
        ),
        "a 'Refund Succeeded' event on the bus",
    )
    demo.step(
        "event",
        f"'Refund Succeeded' on bus {stack.provisioned.refs.get('PaymentEventsBus', '?')} "
        f"(eventId {event['detail'].get('eventId')})",
    )


def _settled(refunds: list[dict[str, Any]], pay1st_refund: str) -> dict[str, Any] | None:
    held = next((r for r in refunds if r.get("refundReference") == pay1st_refund), None)
    return held if held is not None and held.get("status") in ("SUCCESSFUL", "FAILED", "REJECTED") else None


def _last_answer(delivery: Mapping[str, Any]) -> Any:
    attempts = delivery.get("attempts") or []
    return attempts[-1].get("statusCode") if attempts else None


def _wait(probe: Any, what: str, timeout: float = 20.0) -> Any:
    from local_stack.demo import DemoFailed

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise DemoFailed(f"timed out waiting for {what}")
