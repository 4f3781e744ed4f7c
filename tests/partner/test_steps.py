"""In-progress steps (§9, issue 25): recorded beside an open payment's status, shown while they are the
gateway's latest word, told to the partner as ``Payment In Progress`` at most once per step and once per
interval. Every test runs on DynamoDB (moto) and in memory: the two stores keep one contract."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.payments.views import payment_view
from pay1st_partner.state import IN_PROGRESS_STATUSES, Verdict, decide
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.store.memory.store import InMemoryPaymentStore
from pay1st_partner.store.port import PaymentStore, StepChange

from tests.partner.helpers import Clock

INTERVAL = 30.0


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> PaymentStore:
    if request.param == "memory":
        return InMemoryPaymentStore()
    aws = request.getfixturevalue("aws")
    return DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)


@pytest.fixture
def repo(store: PaymentStore, clock: Clock) -> PaymentRepository:
    return PaymentRepository(store, clock=clock, step_event_interval=INTERVAL)


def outbox(store: PaymentStore, partner_reference: str = "order-1001") -> list[dict[str, Any]]:
    item = store.item(partner_reference)
    assert item is not None
    # As published: the stored layout is compact (OutboxEvent.to_stored_json), read back as the publisher does.
    return [
        json.loads(OutboxEvent.from_stored(item, text).to_json()) for text in item.get("outbox", {}).values()
    ]


def test_steps_are_open_never_paid_never_final() -> None:
    for step in IN_PROGRESS_STATUSES:
        assert decide("NEW", step).verdict is Verdict.STEP
        assert decide("PENDING", step).verdict is Verdict.STEP
        assert decide("PENDING_INVESTIGATION", step).verdict is Verdict.STEP
        assert not decide("NEW", step).applies
        for final in ("SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED"):
            assert decide(final, step).verdict is Verdict.STALE


def test_a_step_is_recorded_beside_the_status_and_told_once(
    repo: PaymentRepository, new_payment: Callable[..., Any], store: PaymentStore
) -> None:
    """Given a NEW payment, when Pay1st reports SEND_OTP (twice), then the payment stays NEW with step SEND_OTP
    on its view, one "Payment In Progress" is written with the step, and the repeat writes nothing."""
    new_payment()
    first = repo.apply_status("order-1001", "SEND_OTP", source="webhook")
    again = repo.apply_status("order-1001", "SEND_OTP", source="poller")
    assert first.verdict is Verdict.STEP and not first.applied and first.event is not None
    assert again.verdict is Verdict.SAME and again.event is None
    record = repo.get("order-1001")
    assert record is not None and record.status == "NEW" and record.is_open
    assert record.current_step == "SEND_OTP" and record.last_unknown_status is None
    view = payment_view(record)
    assert view["status"] == "NEW" and view["step"] == "SEND_OTP"
    assert view["stepAt"] == "2026-01-15T10:30:00.000Z"
    [event] = outbox(store)
    assert event["detailType"] == "Payment In Progress" and event["eventId"] == "order-1001:step:SEND_OTP"
    assert event["detail"]["step"] == "SEND_OTP" and event["detail"]["status"] == "NEW"
    assert "previousStatus" not in event["detail"]


def test_steps_are_rate_limited_per_payment(
    repo: PaymentRepository, new_payment: Callable[..., Any], store: PaymentStore, clock: Clock
) -> None:
    """Given a wallet flow (SEND_PHONE, SEND_PIN 5 s later, SEND_OTP 31 s after the first, SEND_PIN again 40 s
    later, SEND_OTP again 40 s after that), then every step is recorded (the latest shows), but SEND_PIN is told
    only when it comes back after the interval, and SEND_OTP only once: one event per interval, one per step."""
    new_payment()
    told = []
    steps = ((0, "SEND_PHONE"), (5, "SEND_PIN"), (26, "SEND_OTP"), (40, "SEND_PIN"), (40, "SEND_OTP"))
    for wait, step in steps:
        clock.advance(wait)
        transition = repo.apply_status("order-1001", step, source="webhook")
        assert transition.verdict is Verdict.STEP
        assert transition.record.current_step == step
        if transition.event is not None:
            told.append(step)
    assert told == ["SEND_PHONE", "SEND_OTP", "SEND_PIN"]
    assert len(outbox(store)) == 3


def test_a_step_is_shown_only_while_it_is_the_latest_word(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    """Given SEND_OTP on a NEW payment, when it goes PENDING, then no step shows; a step then shows again;
    when it is SUCCESSFUL, a late step is stale and nothing shows."""
    new_payment()
    repo.apply_status("order-1001", "SEND_OTP", source="webhook")
    pending = repo.apply_status("order-1001", "PENDING", source="webhook").record
    assert (
        pending.status == "PENDING" and pending.current_step is None and "step" not in payment_view(pending)
    )
    assert (
        repo.apply_status("order-1001", "PAY_OFFLINE", source="poller").record.current_step == "PAY_OFFLINE"
    )
    repo.apply_status("order-1001", "SUCCESSFUL", source="poller")
    late = repo.apply_status("order-1001", "SEND_OTP", source="webhook")
    assert late.verdict is Verdict.STALE and late.event is None
    assert late.record.status == "SUCCESSFUL" and late.record.current_step is None


def test_a_step_write_holds_only_while_status_and_last_tell_are_as_read(
    repo: PaymentRepository, new_payment: Callable[..., Any], store: PaymentStore
) -> None:
    """Given a payment read before another writer told a step, then a tell from the old read is refused
    (two writers never both tell within the interval), and so is any step after the status changed."""
    before = new_payment()
    repo.apply_status("order-1001", "SEND_PHONE", source="webhook")
    from pay1st_partner.events import step_event

    late_tell = StepChange(
        before,
        "SEND_PIN",
        "webhook",
        "2026-01-15T10:30:01.000Z",
        event=step_event(before, "SEND_PIN", occurred_at="x"),
    )
    assert store.write_step(late_tell) is None
    repo.apply_status("order-1001", "PENDING", source="webhook")
    assert store.write_step(StepChange(before, "SEND_PIN", "webhook", "2026-01-15T10:30:01.000Z")) is None


def test_a_lost_race_decides_again(
    repo: PaymentRepository, new_payment: Callable[..., Any], store: PaymentStore, clock: Clock
) -> None:
    """Given the payment as read before its SEND_PHONE was told, when SEND_PIN is reported with that read,
    then the write is refused, the payment read again, and SEND_PIN recorded without a second tell."""
    before = new_payment()
    repo.apply_status("order-1001", "SEND_PHONE", source="webhook")
    transition = repo.apply_status("order-1001", "SEND_PIN", source="webhook", current=before)
    assert transition.verdict is Verdict.STEP and transition.event is None
    assert transition.record.current_step == "SEND_PIN"
    assert [e["eventId"] for e in outbox(store)] == ["order-1001:step:SEND_PHONE"]


def test_the_event_interval_is_a_setting_the_wiring_passes_on(clock: Clock) -> None:
    """Given STEP_EVENT_MIN_INTERVAL_SECONDS=0.001, then the stack's repository tells a second step at once
    (with the default 30 s it would not)."""
    from pay1st_partner.settings import Settings
    from pay1st_partner.wiring import Services

    from tests.partner.test_settings import BASE

    settings = Settings.from_env({**BASE, "STEP_EVENT_MIN_INTERVAL_SECONDS": "0.001"})
    assert settings.step_event_min_interval_seconds == 0.001
    assert Settings.from_env(BASE).step_event_min_interval_seconds == 30.0
    store = InMemoryPaymentStore()
    services = Services(settings, client=lambda name: None, gateway=lambda: None)  # type: ignore[arg-type,return-value]
    services.__dict__["payments_store"] = store  # the wiring's repository over an in-memory store
    repo = services.payments
    from pay1st_partner.fingerprints import fingerprint

    from tests.partner.helpers import created_payment, payment_request

    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_created("order-1001", created_payment(request))
    assert repo.apply_status("order-1001", "SEND_PHONE", source="webhook").event is not None
    time.sleep(0.01)  # the wiring's clock is the real one
    assert repo.apply_status("order-1001", "SEND_PIN", source="webhook").event is not None
