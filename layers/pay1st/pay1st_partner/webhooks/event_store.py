"""The durable record of every webhook received (WebhookEventsTable), written before anything acts on it.

Keyed by ``eventId`` = sha256 hex of the raw body, so a redelivered event lands on the same item (counted,
flagged as a duplicate); the caller learns what the first delivery's processing made of it
(``previous_outcome``), so a replay of an event already applied costs no gateway call, while a delivery
whose first processing crashed after recording (or could not be confirmed) is processed again. Items
expire through the table's TTL. Rejected webhooks are kept in the same table under their own key prefix
(:mod:`pay1st_partner.webhooks.rejections`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.errors import NotRecorded
from pay1st_partner.observability import logger
from pay1st_partner.store.codec import from_item, outcome_update
from pay1st_partner.store.port import WebhookReceipt

DEFAULT_RETENTION = timedelta(days=90)


def event_id(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


@dataclass(frozen=True)
class RecordedWebhook:
    event_id: str
    duplicate: bool
    previous_outcome: str | None = None  # a duplicate's outcome so far ("received" while in progress)


class WebhookEventStore:
    def __init__(
        self,
        table_name: str,
        *,
        client: Any,
        clock: Callable[[], datetime] = utcnow,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self._table = table_name
        self._client = client
        self._clock = clock
        self._retention = retention

    def record(
        self,
        raw_body: bytes,
        *,
        signature_verified: bool,
        key: str | None = None,
    ) -> RecordedWebhook:
        """Store the raw body (once per distinct ``key``, by default its sha256). Raises :class:`NotRecorded`."""
        key = key or event_id(raw_body)
        now = self._clock()
        # One write, new or redelivered: every attribute of the first delivery is set only where absent, the
        # redelivery is counted, and ALL_OLD tells which it was (no old item: new) and what became of it.
        first = {
            "body": {"B": raw_body},
            "receivedAt": {"S": isoformat(now)},
            "signatureVerified": {"BOOL": signature_verified},
            "outcome": {"S": "received"},
            "expiresAt": {"N": str(int((now + self._retention).timestamp()))},
        }
        names = {f"#f{i}": name for i, name in enumerate(first)}
        values = {f":f{i}": value for i, value in enumerate(first.values())}
        sets = [f"#f{i} = if_not_exists(#f{i}, :f{i})" for i in range(len(first))]
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"eventId": {"S": key}},
                UpdateExpression="SET "
                + ", ".join([*sets, "lastReceivedAt = :now"])
                + " ADD receivedCount :one",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":now": {"S": isoformat(now)}, ":one": {"N": "1"}},
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            logger.error("webhook not recorded", extra={"event_id": key, "error_type": type(exc).__name__})
            raise NotRecorded() from exc
        old = response.get("Attributes")
        if not old:
            return RecordedWebhook(event_id=key, duplicate=False)
        return RecordedWebhook(event_id=key, duplicate=True, previous_outcome=old.get("outcome", {}).get("S"))

    def set_outcome(self, key: str, outcome: str, **details: str | None) -> None:
        """Note what processing made of the event; best effort (the event itself is already stored)."""
        try:
            self._client.update_item(**outcome_update(self.receipt(key, outcome, **details)))
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "webhook outcome not saved", extra={"event_id": key, "error_type": type(exc).__name__}
            )

    def receipt(self, key: str, outcome: str, **details: str | None) -> WebhookReceipt:
        """The outcome as a receipt a status change can carry (written with it: no write of its own)."""
        kept = {name: value for name, value in details.items() if value is not None}
        return WebhookReceipt(self._table, key, outcome, isoformat(self._clock()), kept)

    def get(self, key: str) -> Mapping[str, Any] | None:
        """The stored record, deserialized (for operators and tests)."""
        item = self._client.get_item(
            TableName=self._table, Key={"eventId": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None
