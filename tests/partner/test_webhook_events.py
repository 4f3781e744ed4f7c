"""WebhookEventStore: every webhook body recorded once, redeliveries counted, outcomes noted."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pay1st_partner.errors import NotRecorded
from pay1st_partner.webhooks.event_store import WebhookEventStore

from tests.partner.helpers import Clock


def test_a_body_is_recorded_once_and_redeliveries_are_duplicates(
    store: WebhookEventStore, clock: Clock
) -> None:
    # Given a webhook body
    body = b'{"status":"SUCCESSFUL"}'
    # When it is recorded twice
    first = store.record(body, signature_verified=True)
    clock.advance(30)
    second = store.record(body, signature_verified=True)
    # Then the same record is found, counted twice, keyed by the body's sha256, with a TTL
    assert first.event_id == second.event_id == hashlib.sha256(body).hexdigest()
    assert not first.duplicate and second.duplicate
    item = store.get(first.event_id)
    assert item is not None
    assert bytes(item["body"]) == body
    assert item["receivedCount"] == 2 and item["signatureVerified"] is True
    assert item["receivedAt"] == "2026-01-15T10:30:00.000Z"
    assert item["lastReceivedAt"] == "2026-01-15T10:30:30.000Z"
    assert int(item["expiresAt"]) > clock().timestamp()


def test_outcome_is_noted(store: WebhookEventStore) -> None:
    recorded = store.record(b"{}", signature_verified=False)
    store.set_outcome(recorded.event_id, "applied", partnerReference="order-1", reference=None)
    item = store.get(recorded.event_id)
    assert item is not None
    assert item["outcome"] == "applied" and item["partnerReference"] == "order-1" and "reference" not in item


def test_a_redelivery_keeps_the_first_delivery_and_reports_what_became_of_it(
    store: WebhookEventStore, clock: Clock
) -> None:
    # Given a body first recorded unverified (the record is one upsert: new or not, one write)
    first = store.record(b"{}", signature_verified=False, key="event-1")
    assert not first.duplicate and first.previous_outcome is None
    item = store.get("event-1")
    assert item is not None
    expires = item["expiresAt"]
    # When it comes again, verified this time and with another body, later, and once more after its outcome
    clock.advance(60)
    again = store.record(b'{"other": 1}', signature_verified=True, key="event-1")
    store.set_outcome("event-1", "applied")
    third = store.record(b"{}", signature_verified=True, key="event-1")
    # Then the first delivery's attributes stand, the count and last time move, and each replay learns the outcome
    assert again.duplicate and again.previous_outcome == "received"
    assert third.duplicate and third.previous_outcome == "applied"
    item = store.get("event-1")
    assert item is not None
    assert (
        bytes(item["body"]) == b"{}" and item["signatureVerified"] is False and item["expiresAt"] == expires
    )
    assert (
        item["receivedAt"] == "2026-01-15T10:30:00.000Z"
        and item["lastReceivedAt"] == "2026-01-15T10:31:00.000Z"
    )
    assert item["receivedCount"] == 3 and item["outcome"] == "applied"


class _BrokenDynamo:
    def __init__(self, error: Exception) -> None:
        self._error = error

    def update_item(self, **_: Any) -> None:  # the record's only call, and the outcome's
        raise self._error


@pytest.mark.parametrize(
    "error",
    [
        ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "UpdateItem"
        ),
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
    ],
)
def test_a_failed_write_is_not_recorded_and_says_so(error: Exception) -> None:
    broken = WebhookEventStore("WebhookEventsTable", client=_BrokenDynamo(error))
    with pytest.raises(NotRecorded) as caught:
        broken.record(b"{}", signature_verified=True)
    assert caught.value.http_status == 503
    broken.set_outcome("x", "applied")  # best effort: never raises
