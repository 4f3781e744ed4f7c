"""In-progress steps through the webhook intake, the status query and the poller (§9, issue 25): a step
reaches the payment as any other status does, and the partner hears "Payment In Progress" once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pay1st_partner.events import EventPublisher
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.poller import StatusPoller
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.webhooks.intake import WebhookIntake

from tests.partner.helpers import (
    SIGNING_KEY,
    Clock,
    FakeGateway,
    payment_request,
    signed_headers,
    webhook_body,
)


def told(aws: Any) -> list[tuple[str, str, str]]:
    return [
        (e["detail-type"], e["detail"]["eventId"], e["detail"]["step"])
        for e in aws.published_events()
        if e["detail-type"] == "Payment In Progress"
    ]


def test_a_signed_step_is_recorded_and_told_once(
    aws: Any,
    intake: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given a NEW payment, when Pay1st's signed webhook says SEND_OTP (and is delivered again), then it is
    recorded without a status query (like PENDING), the answer says in_progress with the status NEW, the
    payment shows the step, and one "Payment In Progress" is published; the replay is a duplicate."""
    new_payment()
    body = webhook_body("SEND_OTP")
    first = intake.handle(body, signed_headers(body, at=clock()))
    again = intake.handle(body, signed_headers(body, at=clock()))
    assert first.body() == {"received": True, "matched": True, "outcome": "in_progress", "status": "NEW"}
    assert again.outcome == "duplicate" and gateway.queries == []
    record = repo.get("order-1001")
    assert record is not None and record.status == "NEW" and record.current_step == "SEND_OTP"
    assert told(aws) == [("Payment In Progress", "order-1001:step:SEND_OTP", "SEND_OTP")]


def test_an_unsigned_step_only_prompts_a_status_query(
    aws: Any,
    store: WebhookEventStore,
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given mode off, when an unsigned webhook says SEND_PIN while Pay1st's status query says SEND_OTP, then
    the gateway's answer is what is recorded."""
    new_payment()
    gateway.set("C-order-1001-P", "SEND_OTP")
    lenient = WebhookIntake(
        store=store,
        payments=repo,
        reconciler=reconciler,
        signing_key=lambda: SIGNING_KEY,
        signature_required=False,
        clock=clock,
    )
    result = lenient.handle(webhook_body("SEND_PIN"), {})
    assert result.outcome == "in_progress" and gateway.queries == ["C-order-1001-P"]
    record = repo.get("order-1001")
    assert record is not None and record.current_step == "SEND_OTP"


def test_a_step_for_a_payment_without_a_pay1st_reference_is_not_recorded(
    intake: WebhookIntake, repo: PaymentRepository, clock: Clock
) -> None:
    """Given a payment whose create answer was lost (no Pay1st reference), when a signed SEND_OTP arrives,
    then nothing is recorded (a step adopts nothing, nothing to check it against), answered 2xx."""
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    body = webhook_body("SEND_OTP")
    assert intake.handle(body, signed_headers(body, at=clock())).outcome == "in_progress"
    record = repo.get("order-1001")
    assert record is not None and record.step is None


def test_the_poller_records_steps_and_keeps_checking(
    aws: Any,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given an open payment due for its check, when Pay1st's status query says PAY_OFFLINE, then the poller
    records the step, tells it, and schedules the next check (the payment is open); then it settles."""
    new_payment()
    gateway.set("C-order-1001-P", "PAY_OFFLINE")
    poller = StatusPoller(
        payments=repo, reconciler=reconciler, publisher=publisher, batch_size=10, clock=clock
    )
    clock.advance(61)
    poller.run(deadline=float("inf"))
    record = repo.get("order-1001")
    assert record is not None and record.status == "NEW" and record.current_step == "PAY_OFFLINE"
    assert record.last_checked_at is not None
    assert told(aws) == [("Payment In Progress", "order-1001:step:PAY_OFFLINE", "PAY_OFFLINE")]
    assert [r.partner_reference for r in repo.due_payments(now=clock.now.replace(year=2027), limit=5)] == [
        "order-1001"
    ]
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    clock.advance(3600)
    poller.run(deadline=float("inf"))
    settled = repo.get("order-1001")
    assert settled is not None and settled.status == "SUCCESSFUL" and settled.current_step is None
