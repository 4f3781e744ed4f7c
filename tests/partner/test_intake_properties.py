"""Property: whatever the gateway throws at the intake, state and events stay exactly-once.

Hypothesis draws a payment's true path at the gateway (NEW → maybe PENDING → one final) and a delivery
sequence built from it: duplicated, reordered, conflicting finals, unknown statuses, wrong amounts, and a
crash between the commit and the publish (the gateway then retries that delivery). The fake gateway
answers status queries with the true final outcome. After every delivery and after a poller run:

- the status only ever moves along the transition graph (never regresses);
- it is never SUCCESSFUL unless the gateway said so;
- exactly one event was published per status reached (none for NEW), even across the crash.

Refunds, refund webhooks and reversals after SUCCESSFUL: ``test_refund_properties``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pay1st_partner import state
from pay1st_partner.events import EventPublisher, Outbox
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.poller import StatusPoller
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
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

UNKNOWN_STATUSES = ("ON_HOLD", "REFUND", "CHARGEBACK")
STEPS = ("SEND_OTP", "PAY_OFFLINE")  # in-progress steps (§9): recorded beside the status, told at most once
_references = itertools.count()


class SimulatedCrash(BaseException):
    """The Lambda died after the commit and before the publish.

    A BaseException, like the process being killed: no handler of the code under test may turn it into an
    answer (the intake does answer 503 ``not_applied`` for an ordinary exception).
    """


class CrashingPublisher(EventPublisher):
    def __init__(self, bus: str, *, client: Any) -> None:
        super().__init__(bus, client=client)
        self.crash_next = False

    def publish(self, events: Sequence[OutboxEvent], outbox: Outbox) -> list[OutboxEvent]:
        if self.crash_next:
            self.crash_next = False
            raise SimulatedCrash()
        return super().publish(events, outbox)


@dataclass(frozen=True)
class Delivery:
    status: str
    amount_matches: bool
    crash_before_publish: bool


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[str], list[Delivery]]:
    final = draw(st.sampled_from(sorted(state.FINAL_STATUSES)))
    path = ["NEW", "PENDING", final] if draw(st.booleans()) else ["NEW", final]
    conflicting = sorted(state.FINAL_STATUSES - {final})
    status = st.one_of(
        st.sampled_from(path),  # the true events (most of them)
        st.sampled_from(path),
        st.sampled_from(conflicting),
        st.sampled_from(UNKNOWN_STATUSES),
        st.sampled_from(STEPS),
    )
    deliveries = draw(
        st.lists(
            st.builds(
                Delivery,
                status=status,
                amount_matches=st.sampled_from([True, True, True, False]),
                crash_before_publish=st.sampled_from([False, False, False, False, True]),
            ),
            min_size=1,
            max_size=8,
        )
    )
    return path, deliveries


@settings(
    # moto serialises every call (~10 ms each): a modest count keeps this to a few seconds.
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_duplicated_reordered_and_conflicting_webhooks_stay_exactly_once(
    aws: Any, scenario: tuple[list[str], list[Delivery]]
) -> None:
    path, deliveries = scenario
    truth = path[-1]
    partner_reference = f"prop-{next(_references)}"
    reference = f"C-{partner_reference}-P"

    # Given a NEW payment, and a gateway that knows its true final outcome
    clock = Clock()
    repo = PaymentRepository(DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb), clock=clock)
    request = payment_request(partner_reference)
    repo.claim(request, fingerprint(request), None)
    repo.mark_created(partner_reference, created_payment(request, reference))
    gateway = FakeGateway()
    gateway.set(reference, truth, partner_reference=partner_reference)
    publisher = CrashingPublisher("pay1st-events", client=aws.events)
    reconciler = Reconciler(repo, gateway, publisher)
    intake = WebhookIntake(
        store=WebhookEventStore("WebhookEventsTable", client=aws.dynamodb, clock=clock),
        payments=repo,
        reconciler=reconciler,
        signing_key=lambda: SIGNING_KEY,
        clock=clock,
    )
    observed = ["NEW"]

    def check_step(status: str | None = None) -> None:
        if status is None:
            current = repo.get(partner_reference)
            assert current is not None
            status = current.status
        if status != observed[-1]:
            assert state.can_transition(observed[-1], status), (observed, status)
            observed.append(status)
        if status == state.SUCCESSFUL:
            assert truth == state.SUCCESSFUL and reference in gateway.queries

    # When every delivery is thrown at the intake (a crash makes the gateway deliver it again)
    for delivery in deliveries:
        body = webhook_body(
            delivery.status,
            partner_reference=partner_reference,
            reference=reference,
            amount="250.50" if delivery.amount_matches else "25.05",
        )
        publisher.crash_next = delivery.crash_before_publish
        try:
            result = intake.handle(body, signed_headers(body, at=clock()))
        except SimulatedCrash:
            check_step()
            result = intake.handle(body, signed_headers(body, at=clock()))  # the gateway's retry
        publisher.crash_next = False
        check_step(result.status)
        clock.advance(1)

    # And later the poller runs (outbox sweep + status check)
    clock.advance(120)
    StatusPoller(
        payments=repo,
        reconciler=reconciler,
        publisher=publisher,
        batch_size=50,
        clock=clock,
        min_seconds_per_check=0,
    ).run(deadline=float("inf"))
    check_step()

    # Then exactly one event per status reached, none for NEW, none left in the outbox
    published = Counter(
        event["detail"]["eventId"]
        for event in aws.published_events()
        if event["detail"]["partnerReference"] == partner_reference
    )
    # (steps are told at most once each)
    told = {event_id: n for event_id, n in published.items() if ":step:" in event_id}
    assert set(told.values()) <= {1}
    for event_id in told:
        del published[event_id]
    reached = [status for status in observed if state.detail_type(status) is not None]
    assert published == Counter(f"{partner_reference}:{status}" for status in reached)
    final_record = repo.get(partner_reference)
    assert final_record is not None and final_record.pending_event_ids == ()
    # (the poller knows the truth: an open payment is always settled by it)
    assert final_record.is_final
