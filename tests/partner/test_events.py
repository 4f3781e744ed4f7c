"""EventPublisher: outbox events to EventBridge with stable ids, cleared only once accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pay1st_partner.events import EventPublisher
from pay1st_partner.repository import PaymentRepository

from tests.partner.helpers import Clock


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
