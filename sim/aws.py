"""The AWS services around the functions, in memory: the payments store behind a boundary proxy, EventBridge,
the fulfilment queue (SQS with a visibility timeout, receive counts and a dead-letter queue) and the webhook
events table as the low-level DynamoDB client the layer calls.

Every call is a scheduler boundary (another invocation may run first; a crash before or after a write loses
the rest of the invocation, never the write). While faults are on, calls may fail as AWS fails: DynamoDB
throttles, EventBridge entries refused one by one (a partial failure), SQS errors.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from sim.scheduler import Scheduler

_READS = frozenset(
    {
        "get",
        "find_by_reference",
        "open_payments",
        "due_payments",
        "gave_up_payments",
        "pending_events",
        "outbox_events",
        "item",
        "refund_owner",
        "attempt_owner",
        "open_refund_payments",
        "by_status",
    }
)


def throttled(operation: str) -> ClientError:
    error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled (simulated)"}}
    return ClientError(error, operation)  # type: ignore[arg-type]


class Faults:
    """The rates of AWS faults (per call, while faults are on)."""

    def __init__(self, rng: random.Random, sched: Scheduler) -> None:
        self.rng = rng
        self.sched = sched
        self.dynamodb_throttle = 0.0
        self.events_partial = 0.0
        self.sqs_error = 0.0
        self.counts: dict[str, int] = {}

    def hit(self, kind: str, rate: float) -> bool:
        if not self.sched.faults_on or not rate or self.rng.random() >= rate:
            return False
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return True


class StoreProxy:
    """The payments store as the functions see it: every call a boundary, writes crash points, throttles."""

    def __init__(
        self, store: Any, sched: Scheduler, faults: Faults, on_write: Callable[[str, str, Any], None]
    ) -> None:
        self._store = store
        self._sched = sched
        self._faults = faults
        self._on_write = on_write

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target
        if name in _READS:

            def read(*args: Any, **kwargs: Any) -> Any:
                self._sched.boundary(f"store.{name}", crash=False)
                return target(*args, **kwargs)

            return read

        def write(*args: Any, **kwargs: Any) -> Any:
            self._sched.boundary(f"store.{name}")  # killed before the write: nothing written
            if self._faults.hit("dynamodb_throttle", self._faults.dynamodb_throttle):
                raise throttled(name)
            result = target(*args, **kwargs)
            self._on_write(name, _payment_of(name, args, kwargs), result)
            self._sched.boundary(f"store.{name}:answer")  # killed after: written, the answer lost
            return result

        return write


def _payment_of(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    first = args[0] if args else next(iter(kwargs.values()), None)
    if (
        name in ("claim_refund_reference", "release_refund_reference", "claim_attempt_reference")
        and len(args) > 1
    ):
        return args[1]
    if isinstance(first, str):
        return first
    for attr in ("partner_reference",):
        if hasattr(first, attr):
            return getattr(first, attr)
    record = getattr(first, "record", None)
    if record is not None:
        return record.partner_reference
    if isinstance(first, dict):
        return first.get("partnerReference")
    return None


class EventBus:
    """EventBridge ``put_events``: every accepted entry is kept (what the partner's consumers receive)."""

    def __init__(self, sched: Scheduler, faults: Faults, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._sched = sched
        self._faults = faults
        self._on_event = on_event
        self._serial = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._sched.boundary("events.put_events")
        results: list[dict[str, Any]] = []
        failed = 0
        for entry in Entries:
            if self._faults.hit("events_partial", self._faults.events_partial):
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "simulated"})
                failed += 1
                continue
            self._serial += 1
            results.append({"EventId": f"eb-{self._serial}"})
            self._on_event(json.loads(entry["Detail"]) | {"detail-type": entry["DetailType"]})
        self._sched.boundary("events.put_events:answer")
        return {"FailedEntryCount": failed, "Entries": results}


class Queue:
    """The fulfilment queue: messages, visibility timeout, receive counts, maxReceiveCount → DLQ."""

    def __init__(self, sched: Scheduler, faults: Faults, *, visibility: float, max_receives: int) -> None:
        self._sched = sched
        self._faults = faults
        self.visibility = visibility
        self.max_receives = max_receives
        self.dead: list[dict[str, Any]] = []
        self.on_message: Callable[[dict[str, Any]], None] = lambda message: None
        self._serial = 0
        self.sent = 0

    def send_message(self, QueueUrl: str, MessageBody: str) -> dict[str, Any]:
        self._sched.boundary("sqs.send_message")
        if self._faults.hit("sqs_error", self._faults.sqs_error):
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "simulated"}}, "SendMessage"
            )
        self._serial += 1
        self.sent += 1
        message = {"id": f"m-{self._serial}", "body": MessageBody, "receives": 0, "first": None}
        self.on_message(message)
        self._sched.boundary("sqs.send_message:answer")
        return {"MessageId": message["id"]}


class WebhookTable:
    """The webhook events table as the layer's low-level DynamoDB client uses it (record, outcome, rejections).

    The outcome a transition writes with its receipt lives in the payments store's ``receipts`` (DynamoDB: the
    same table, in one transaction); reads here see it, as they would.
    """

    def __init__(
        self, sched: Scheduler, faults: Faults, receipts: Callable[[], dict[str, dict[str, Any]]]
    ) -> None:
        self._sched = sched
        self._faults = faults
        self._receipts = receipts
        self.items: dict[str, dict[str, Any]] = {}

    def update_item(self, **params: Any) -> dict[str, Any]:
        self._sched.boundary("webhooks.update_item")
        if self._faults.hit("dynamodb_throttle", self._faults.dynamodb_throttle):
            raise throttled("UpdateItem")
        key = params["Key"]["eventId"]["S"]
        expression = params["UpdateExpression"]
        values = params.get("ExpressionAttributeValues", {})
        old = self.items.get(key)
        merged = dict(old or {})
        outcome = self._receipts().get(key, {}).get("outcome")
        if outcome is not None and old is not None:
            merged["outcome"] = {"S": outcome}
        if "receivedCount" in expression:  # record(): first delivery's attributes only where absent
            item = dict(old or {})
            if old is None:
                item.update({"outcome": {"S": "received"}, "body": values.get(":f0")})
            item["receivedCount"] = str(int(item.get("receivedCount", "0")) + 1)
            self.items[key] = item
            self._sched.boundary("webhooks.update_item:answer")
            return {"Attributes": merged} if old is not None else {}
        if ":outcome" in values:  # set_outcome()
            item = self.items.setdefault(key, {})
            item["outcome"] = values[":outcome"]
            self._receipts().pop(key, None)  # the newer outcome wins
        elif "ConditionExpression" in params:  # the rejection log's hourly budget
            item = self.items.setdefault(key, {})
            kept = int(item.get("kept", "0"))
            if kept >= int(values[":max"]["N"]):
                raise ClientError(
                    {"Error": {"Code": "ConditionalCheckFailedException", "Message": ""}}, "UpdateItem"
                )
            item["kept"] = str(kept + 1)
        else:
            self.items.setdefault(key, {})["rejected"] = {"S": "yes"}
        self._sched.boundary("webhooks.update_item:answer")
        return {}

    def get_item(self, **params: Any) -> dict[str, Any]:
        key = params["Key"]["eventId"]["S"]
        item = self.items.get(key)
        return {"Item": item} if item is not None else {}

    def outcome(self, key: str) -> str | None:
        receipt = self._receipts().get(key)
        if receipt is not None:
            return str(receipt["outcome"])
        item = self.items.get(key)
        return None if item is None or "outcome" not in item else str(item["outcome"]["S"])
