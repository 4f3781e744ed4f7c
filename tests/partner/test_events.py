"""EventPublisher: outbox events to EventBridge with stable ids, cleared only once accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pay1st_partner.events import EventPublisher, payment_event, reversal_event
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.attempts import _paid_twice_event
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.memory.store import InMemoryPaymentStore

from tests.partner.helpers import Clock, created_payment, payment_request


def test_published_event_reaches_the_bus_and_leaves_the_outbox(
    repo: PaymentRepository, publisher: EventPublisher, new_payment: Callable[..., Any], aws: Any
) -> None:
    # Given a committed transition with its event in the outbox
    new_payment()
    transition = repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    assert transition.event is not None
    # When it is published
    sent = publisher.publish([transition.event], repo)
    # Then EventBridge delivered it with our source, detail-type and stable id, and the outbox is empty
    assert sent == [transition.event]
    [event] = aws.published_events()
    assert event["source"] == "pay1st.partner"
    assert event["detail-type"] == "Payment Succeeded"
    assert event["detail"]["eventId"] == "order-1001:SUCCESSFUL"
    assert event["detail"]["amount"] == "250.50"
    assert event["time"] == "2026-01-15T10:30:00Z"
    assert repo.get("order-1001").pending_event_ids == ()  # type: ignore[union-attr]


class _FailingEvents:
    def __init__(self, failed_ids: set[int] | None = None) -> None:
        self.failed = failed_ids

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.failed is None:
            raise ClientError({"Error": {"Code": "InternalException", "Message": "down"}}, "PutEvents")
        return {
            "Entries": [
                {"ErrorCode": "InternalFailure"} if i in self.failed else {"EventId": f"id-{i}"}
                for i in range(len(Entries))
            ]
        }


def test_eventbridge_errors_leave_events_in_the_outbox_for_the_poller(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    # Given two payments with pending events
    for name in ("a", "b"):
        new_payment(name)
        repo.apply_status(name, "FAILED", source="webhook")
    clock.advance(120)
    pending = repo.pending_events(older_than=clock() - timedelta(seconds=60), limit=10)
    # When EventBridge is down, and then rejects one of the two entries
    assert EventPublisher("bus", client=_FailingEvents()).publish(pending, repo) == []
    sent = EventPublisher("bus", client=_FailingEvents({0})).publish(pending, repo)
    # Then nothing raised, and only the accepted event left the outbox
    assert [e.event_id for e in sent] == [pending[1].event_id]
    left = repo.pending_events(older_than=clock(), limit=10)
    assert [e.event_id for e in left] == [pending[0].event_id]


def test_more_than_ten_events_are_sent_in_batches(
    repo: PaymentRepository, publisher: EventPublisher, new_payment: Callable[..., Any], aws: Any
) -> None:
    events = []
    for index in range(12):
        new_payment(f"p{index}")
        transition = repo.apply_status(f"p{index}", "PENDING", source="webhook")
        assert transition.event is not None
        events.append(transition.event)
    assert len(publisher.publish(events, repo)) == 12
    received = aws.published_events()
    assert sorted(e["detail"]["eventId"] for e in received) == sorted(e.event_id for e in events)
    assert all(json.dumps(e["detail"]) for e in received)


def test_every_event_of_a_payment_with_attempts_carries_them() -> None:
    # Given a paid payment whose second attempt superseded its first
    request = payment_request("order-7")
    repo = PaymentRepository(InMemoryPaymentStore(), clock=Clock())
    repo.claim(request, fingerprint(request), None)
    created = repo.mark_created("order-7", created_payment(request, "C-7-P"))
    first = {"partnerReference": "order-7", "supersededAt": "2026-01-15T10:31:00.000Z", "reason": "stalled"}
    paid = replace(created, status="SUCCESSFUL", attempt_reference="order-7..2", attempts=(first,))
    at = "2026-01-15T10:40:00.000Z"
    # When it is charged back, or (in another story) reaches a status, or its first attempt is paid as well
    events = [
        reversal_event(paid, "CHARGEBACK", occurred_at=at),
        payment_event(replace(paid, status="PENDING"), "SUCCESSFUL", reference="C-7-P", occurred_at=at),
        _paid_twice_event(paid, "order-7", "C-7-first-P", at),
    ]
    # Then each event's detail names the current attempt and the superseded ones, with the payment's money
    for event in events:
        assert event is not None
        assert event.detail["attemptReference"] == "order-7..2", event.detail_type
        assert event.detail["supersededAttempts"] == ["order-7"], event.detail_type
        assert (event.detail["amount"], event.detail["currencyCode"]) == ("250.50", "ZAR"), event.detail_type
    assert [e.detail_type for e in events if e] == [
        "Payment Charged Back",
        "Payment Succeeded",
        "Payment Paid Twice",
    ]
    assert events[2] is not None and events[2].detail["paidAttempt"] == {
        "attemptReference": "order-7",
        "reference": "C-7-first-P",
    }
