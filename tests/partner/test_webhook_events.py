"""WebhookEventStore: every webhook body recorded once, redeliveries counted, outcomes noted."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pay1st_partner.errors import NotRecorded
from pay1st_partner.webhook_events import WebhookEventStore

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


class _BrokenDynamo:
    def put_item(self, **_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "PutItem"
        )

    def update_item(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "UpdateItem")


def test_a_failed_write_is_not_recorded_and_says_so() -> None:
    broken = WebhookEventStore("WebhookEventsTable", client=_BrokenDynamo())
    with pytest.raises(NotRecorded) as caught:
        broken.record(b"{}", signature_verified=True)
    assert caught.value.http_status == 503
    broken.set_outcome("x", "applied")  # best effort: never raises
