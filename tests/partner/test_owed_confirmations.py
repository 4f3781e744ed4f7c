"""Owed confirmations (DESIGN §9, ``pay1st_partner.payments.owed``): a signed report that cannot be confirmed
when it comes (the status-query slot is taken, or the query fails) is owed on the payment and paid by the
poller, with no redelivery from Pay1st. Each story runs on DynamoDB (moto) and on the in-memory store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pay1st.errors import Pay1stConnectionError
from pay1st_partner.events import EventPublisher
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.store.memory.store import InMemoryPaymentStore
from pay1st_partner.store.port import PaymentStore
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.webhooks.intake import WebhookIntake

from tests.partner.helpers import (
    SIGNING_KEY,
    Clock,
    FakeGateway,
    created_payment,
    payment_request,
    signed_headers,
    webhook_body,
)
from tests.partner.test_fulfilment_guard import ITEMS
from tests.partner.test_poller import make_poller

INTERVAL = 15.0


@pytest.fixture(params=["dynamodb", "memory"])
def payment_store(request: pytest.FixtureRequest, aws: Any) -> PaymentStore:
    if request.param == "memory":
        return InMemoryPaymentStore()
    return DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)


@pytest.fixture
def repo(payment_store: PaymentStore, clock: Clock) -> PaymentRepository:
    return PaymentRepository(payment_store, clock=clock)


@pytest.fixture
def reconciler(
    repo: PaymentRepository,
    payment_store: PaymentStore,
    gateway: FakeGateway,
    publisher: EventPublisher,
    clock: Clock,
) -> Reconciler:
    refunds = RefundRepository(payment_store, clock=clock)
    return Reconciler(repo, gateway, publisher, refunds, min_query_interval=INTERVAL)


@pytest.fixture
def intake(
    store: WebhookEventStore, repo: PaymentRepository, reconciler: Reconciler, clock: Clock
) -> WebhookIntake:
    return WebhookIntake(
        store=store, payments=repo, reconciler=reconciler, signing_key=lambda: SIGNING_KEY, clock=clock
    )


@pytest.fixture
def second_attempt(repo: PaymentRepository, gateway: FakeGateway) -> Any:
    """A payment whose first attempt's answer was lost (Pay1st C-1), NEW on its second attempt (C-2)."""
    request = payment_request("order-1001")
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    record = repo.get("order-1001")
    assert record is not None and repo.attempts().start_next(record, reason="duplicate_refused") is not None
    gateway.set("C-2", "NEW", partner_reference="order-1001..2")
    return repo.mark_created("order-1001", created_payment(payment_request("order-1001..2"), "C-2"))


def deliver(intake: WebhookIntake, clock: Clock, status: str, **fields: Any) -> Any:
    body = webhook_body(status, **fields)
    return intake.handle(body, signed_headers(body, at=clock()))


def run_poller(
    repo: PaymentRepository, reconciler: Reconciler, publisher: EventPublisher, clock: Clock
) -> Any:
    return make_poller(repo, reconciler, publisher, clock).run(deadline=10**9)


def detail_types(aws: Any) -> list[str]:
    return [event["detail-type"] for event in aws.published_events()]


def test_a_paid_superseded_attempt_whose_slot_was_taken_ends_successful(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    clock: Clock,
    second_attempt: Any,
    aws: Any,
) -> None:
    """Given a signed webhook naming the order with a foreign Pay1st reference took the query slot,
    When Pay1st's only webhook saying attempt 1 was paid comes within the interval,
    Then it is answered 2xx as owed (not query_throttled and forgotten), and the poller's run after the
    interval queries attempt 1's own reference: the payment ends SUCCESSFUL, paid by attempt 1 (and the attempt
    it displaced is asked about once, an interval later)."""
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-FOREIGN").outcome == "gateway_rejected"
    gateway.set("C-1", "SUCCESSFUL")
    clock.advance(1)
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "confirmation_owed"
    record = repo.get("order-1001")
    assert record is not None and record.status == "NEW" and set(record.owed) == {"C-1"}
    # When the poller runs before the slot is free, nothing is due yet; after it, the owed one is paid first
    assert run_poller(repo, reconciler, publisher, clock).checked == 0
    clock.advance(INTERVAL + 1)
    report = run_poller(repo, reconciler, publisher, clock)
    assert report.outcomes["applied"] == 1
    record = repo.get("order-1001")
    assert record is not None and (record.status, record.reference) == ("SUCCESSFUL", "C-1")
    assert gateway.queries == ["C-FOREIGN", "C-1"]
    assert detail_types(aws) == ["Payment Succeeded"]
    # And the attempt it displaced (C-2, still NEW) is asked about once, an interval later
    assert set(record.owed) == {"C-2"}
    clock.advance(INTERVAL + 1)
    assert run_poller(repo, reconciler, publisher, clock).outcomes["superseded_attempt"] == 1
    record = repo.get("order-1001")
    assert record is not None and record.owed == {} and not record.double_paid
    assert gateway.queries == ["C-FOREIGN", "C-1", "C-2"]


def test_two_attempts_paid_a_second_apart_end_double_paid_with_one_event(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    clock: Clock,
    second_attempt: Any,
    aws: Any,
) -> None:
    """Given attempt 2 is paid and confirmed, When attempt 1 is paid 1 s later and its webhook finds the slot
    taken, Then it is owed (2xx, where the old code answered 503 and waited for a redelivery), and the
    poller's run ends the payment doublePaid with one Payment Paid Twice event; a second run does nothing."""
    gateway.set("C-2", "SUCCESSFUL", partner_reference="order-1001..2")
    assert deliver(
        intake, clock, "SUCCESSFUL", partner_reference="order-1001..2", reference="C-2"
    ).outcome == ("applied")
    gateway.set("C-1", "SUCCESSFUL")
    clock.advance(1)
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "confirmation_owed"
    clock.advance(INTERVAL + 1)
    report = run_poller(repo, reconciler, publisher, clock)
    assert report.outcomes["double_paid"] == 1
    record = repo.get("order-1001")
    assert record is not None and record.double_paid and record.owed == {}
    assert detail_types(aws) == ["Payment Succeeded", "Payment Paid Twice"]
    clock.advance(3600)
    assert run_poller(repo, reconciler, publisher, clock).checked == 0


def test_a_full_refunds_reversal_within_the_interval_is_recorded_by_the_poller(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Any,
    clock: Clock,
    aws: Any,
) -> None:
    """Given a payment just confirmed SUCCESSFUL, When Pay1st's REFUND reversal comes within the interval,
    Then it is owed, and the poller records the reversal once (Payment Refunded) and takes the paid payment
    off the schedule."""
    new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    assert deliver(intake, clock, "SUCCESSFUL").outcome == "applied"
    gateway.set("C-order-1001-P", "REFUND")
    clock.advance(2)
    assert deliver(intake, clock, "REFUND").outcome == "confirmation_owed"
    clock.advance(INTERVAL + 1)
    assert run_poller(repo, reconciler, publisher, clock).outcomes["reversed"] == 1
    record = repo.get("order-1001")
    assert record is not None and set(record.reversals) == {"REFUND"} and record.owed == {}
    assert detail_types(aws) == ["Payment Succeeded", "Payment Refunded"]
    clock.advance(3600)
    assert run_poller(repo, reconciler, publisher, clock).checked == 0


def test_an_owed_confirmation_stays_owed_while_the_gateway_is_down(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Any,
    clock: Clock,
) -> None:
    """Given a SUCCESSFUL owed because the gateway was down, When the poller's query fails too, Then it stays
    owed (due again one interval later, its first report time kept), and is applied once the gateway answers."""
    new_payment()
    gateway.error = Pay1stConnectionError("down")
    assert deliver(intake, clock, "SUCCESSFUL").outcome == "confirmation_owed"
    since = repo.get("order-1001").owed["C-order-1001-P"]["since"]  # type: ignore[union-attr]
    clock.advance(INTERVAL + 1)
    assert run_poller(repo, reconciler, publisher, clock).outcomes["gateway_unavailable"] == 1
    record = repo.get("order-1001")
    assert record is not None and record.owed["C-order-1001-P"]["since"] == since
    gateway.error = None
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    clock.advance(INTERVAL + 1)
    assert run_poller(repo, reconciler, publisher, clock).outcomes["applied"] == 1
    record = repo.get("order-1001")
    assert record is not None and record.status == "SUCCESSFUL" and record.owed == {}


def test_a_transition_of_a_payment_read_before_something_was_owed_keeps_it_on_the_schedule(
    repo: PaymentRepository, gateway: FakeGateway, new_payment: Any, clock: Clock
) -> None:
    """Given a payment read with nothing owed, When a confirmation is owed before the read's transition to a
    final status is written, Then that write's condition fails and it decides again on the payment as it is
    now: it is SUCCESSFUL and still due (the owed confirmation is not dropped from the schedule)."""
    before = new_payment()
    owed = repo.owed().owe(
        before, attempt_reference="order-1001", reference="C-order-1001-P", reported="REFUND", due_in=0
    )
    transition = repo.apply_status("order-1001", "SUCCESSFUL", source="webhook", current=before)
    assert transition.applied and transition.record.owed == owed.owed
    clock.advance(1)
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["order-1001"]


def test_a_current_attempt_paid_with_its_webhook_lost_and_displaced_by_a_superseded_one_ends_double_paid(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    clock: Clock,
    second_attempt: Any,
    aws: Any,
) -> None:
    """Given attempt 2 (current) paid at Pay1st with every webhook of it lost, and attempt 1 (superseded) paid
    out of band, When attempt 1's webhook comes first and is confirmed, Then the payment is paid by attempt 1
    and the displaced attempt 2's confirmation is owed: the poller's run after the interval queries C-2 and
    ends the payment doublePaid with one Payment Paid Twice event (the old code never queried C-2 again: the
    schedule does not query superseded attempts). Found by the simulation (issue 22, F2)."""
    gateway.set("C-2", "SUCCESSFUL", partner_reference="order-1001..2")  # its webhook never comes
    gateway.set("C-1", "SUCCESSFUL")
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "applied"
    record = repo.get("order-1001")
    assert record is not None and (record.status, record.reference) == ("SUCCESSFUL", "C-1")
    assert set(record.owed) == {"C-2"} and record.owed["C-2"]["attemptReference"] == "order-1001..2"
    assert not record.double_paid
    clock.advance(INTERVAL + 1)
    report = run_poller(repo, reconciler, publisher, clock)
    assert report.outcomes["double_paid"] == 1
    record = repo.get("order-1001")
    assert record is not None and record.double_paid and record.owed == {}
    assert gateway.queries == ["C-1", "C-2"]
    assert detail_types(aws) == ["Payment Succeeded", "Payment Paid Twice"]
    clock.advance(3600)
    assert run_poller(repo, reconciler, publisher, clock).checked == 0


def test_a_displaced_attempt_not_paid_is_queried_once_and_the_payment_leaves_the_schedule(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    clock: Clock,
    second_attempt: Any,
    aws: Any,
) -> None:
    """Given attempt 2 (current) still NEW at Pay1st, When attempt 1 is paid and promoted, Then the poller
    asks about C-2 once after the interval, finds it unpaid, and the payment stays SUCCESSFUL by attempt 1,
    not doublePaid, off the schedule (no further query)."""
    gateway.set("C-1", "SUCCESSFUL")
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "applied"
    clock.advance(INTERVAL + 1)
    report = run_poller(repo, reconciler, publisher, clock)
    assert report.outcomes["superseded_attempt"] == 1
    record = repo.get("order-1001")
    assert record is not None and record.status == "SUCCESSFUL" and not record.double_paid
    assert record.owed == {} and gateway.queries == ["C-1", "C-2"]
    assert detail_types(aws) == ["Payment Succeeded"]
    clock.advance(3600)
    assert run_poller(repo, reconciler, publisher, clock).checked == 0


# ------------------------------------------------ owed confirmations and the watch list (issue 24 with issue 21)

HOURS = 2 * 3600  # the poller's paid_not_fulfilled_after (its default)


def test_a_payment_paid_through_an_owed_confirmation_stays_watched_until_its_fulfilment_is_delivered(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Any,
    clock: Clock,
) -> None:
    """Given a SUCCESSFUL owed while the gateway was down, When the poller pays it (the payment SUCCESSFUL,
    under OWED#n while owed), Then it is back on the watch list once nothing is owed: counted PaidNotFulfilled
    the hours after, with no query; and off the list once its fulfilment is delivered."""
    new_payment()
    gateway.error = Pay1stConnectionError("down")
    assert deliver(intake, clock, "SUCCESSFUL").outcome == "confirmation_owed"
    gateway.error = None
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    clock.advance(INTERVAL + 1)
    assert run_poller(repo, reconciler, publisher, clock).outcomes["applied"] == 1
    clock.advance(HOURS + 60)
    report = run_poller(repo, reconciler, publisher, clock)
    assert (report.checked, report.paid_not_fulfilled) == (0, ["order-1001"])
    assert gateway.queries == ["C-order-1001-P"] * 2  # the webhook's (failed) and the poller's, no more
    repo.record_fulfilment("order-1001", ITEMS)
    repo.mark_fulfilment_delivered("order-1001")
    assert repo.due_payments(now=clock() + timedelta(days=30), limit=10) == []


def test_a_refunded_payment_is_not_paid_not_fulfilled_and_leaves_the_watch_list(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Any,
    clock: Clock,
) -> None:
    """Given a paid payment whose REFUND reversal was owed and then paid by the poller, When the hours for
    a fulfilment pass, Then it is not counted PaidNotFulfilled (the fulfilment guard refuses it for ever, so
    nothing is missing) and the poller takes it off the watch list."""
    new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    assert deliver(intake, clock, "SUCCESSFUL").outcome == "applied"
    gateway.set("C-order-1001-P", "REFUND")
    clock.advance(2)
    assert deliver(intake, clock, "REFUND").outcome == "confirmation_owed"
    clock.advance(INTERVAL + 1)
    assert run_poller(repo, reconciler, publisher, clock).outcomes["reversed"] == 1
    clock.advance(HOURS + 60)
    assert run_poller(repo, reconciler, publisher, clock).paid_not_fulfilled == []
    assert repo.due_payments(now=clock() + timedelta(days=30), limit=10) == []


def test_a_fulfilment_delivered_while_a_confirmation_is_owed_keeps_the_payment_due(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Any,
    clock: Clock,
) -> None:
    """Given a paid, fulfilled payment owed a REFUND confirmation (slot taken), When its fulfilment is
    delivered (the write that takes a delivered payment off the watch list), Then it stays due for the owed
    confirmation, and the poller records the reversal."""
    new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    assert deliver(intake, clock, "SUCCESSFUL").outcome == "applied"
    repo.record_fulfilment("order-1001", ITEMS)
    gateway.set("C-order-1001-P", "REFUND")
    clock.advance(2)
    assert deliver(intake, clock, "REFUND").outcome == "confirmation_owed"
    repo.mark_fulfilment_delivered("order-1001")
    clock.advance(INTERVAL + 1)
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["order-1001"]
    assert run_poller(repo, reconciler, publisher, clock).outcomes["reversed"] == 1
    assert repo.due_payments(now=clock() + timedelta(days=30), limit=10) == []
