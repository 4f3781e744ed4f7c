"""Event sources Lambda would run for us: SQS queue polling and EventBridge schedules."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_stack.aws import ACCOUNT_ID, REGION
from local_stack.runtime import InvokeResult
from local_stack.spec import QueueSource, ScheduleSource

log = logging.getLogger("local_stack")

Invoker = Callable[[str, Any], InvokeResult]
# The pause after an empty receive: short after a message, doubling while the queue stays empty (as Lambda's
# pollers scale down), so an idle stack costs about one receive a second and a busy one picks up at once.
IDLE_POLL_PAUSE_SECONDS = (0.1, 1.0)


@dataclass(frozen=True)
class BatchOutcome:
    received: int
    deleted: int
    failed: int
    result: InvokeResult | None


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One SQS message in the shape Lambda's SQS event source gives it to the function."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            key: attributes[key]
            for key in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "MessageGroupId",
                "MessageDeduplicationId",
                "SequenceNumber",
            )
            if key in attributes
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """What EventBridge Scheduler/rules send for a schedule with no Input."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class QueuePoller:
    """Lambda's SQS event source mapping for one function and queue.

    Successful messages are deleted; with ReportBatchItemFailures only those not listed in
    ``batchItemFailures``; after an error none are. The rest become visible again after the queue's visibility
    timeout, and the queue's redrive policy moves them to the DLQ after maxReceiveCount, as in AWS.
    """

    def __init__(
        self, function_id: str, source: QueueSource, sqs: Any, queue_url: str, queue_arn: str, invoke: Invoker
    ) -> None:
        self.function_id = function_id
        self.source = source
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._invoke = invoke
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self, wait_seconds: int = 0) -> BatchOutcome:
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return BatchOutcome(0, 0, 0, None)
        event = {"Records": [sqs_record(message, self._queue_arn) for message in messages]}
        result = self._invoke(self.function_id, event)
        if not result.ok:
            failed_ids = {message["MessageId"] for message in messages}
        elif self.source.report_batch_item_failures and isinstance(result.result, dict):
            failed_ids = {item.get("itemIdentifier") for item in result.result.get("batchItemFailures") or []}
        else:
            failed_ids = set()
        done = [message for message in messages if message["MessageId"] not in failed_ids]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        outcome = BatchOutcome(len(messages), len(done), len(messages) - len(done), result)
        log.info(
            "SQS %s -> %s: %d message(s), %d done, %d left for retry",
            self.source.logical_id,
            self.function_id,
            outcome.received,
            outcome.deleted,
            outcome.failed,
        )
        return outcome

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sqs-{self.function_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Short polls with a pause between empty ones, where Lambda long-polls: a long poll in flight could not
        # be called off, so stopping a stack waited for it (a second, per stack, in every test module); the
        # pause can (stop() sets the event it waits on).
        shortest, longest = IDLE_POLL_PAUSE_SECONDS
        pause = shortest
        while not self._stop.is_set():
            try:
                if self.poll_once().received:
                    pause = shortest
                else:
                    self._stop.wait(pause)
                    pause = min(pause * 2, longest)
            except Exception:  # a poller must outlive a bad batch or a stopping emulator
                if not self._stop.is_set():
                    log.exception("SQS poller for %s failed; retrying", self.function_id)
                    self._stop.wait(1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class Schedule:
    """An EventBridge schedule for one function: every ``interval`` seconds, and on demand."""

    def __init__(self, function_id: str, source: ScheduleSource, interval: float, invoke: Invoker) -> None:
        self.function_id = function_id
        self.source = source
        self.interval = interval
        self._invoke = invoke
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def event(self) -> Any:
        if self.source.input is not None:
            return json.loads(self.source.input)
        return scheduled_event(f"{self.function_id}Schedule")

    def run_once(self) -> InvokeResult:
        result = self._invoke(self.function_id, self.event())
        log.info(
            "schedule %s -> %s: %s", self.source.expression, self.function_id, "ok" if result.ok else "error"
        )
        return result

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.function_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep the schedule alive, as EventBridge would
                log.exception("scheduled run of %s failed", self.function_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
