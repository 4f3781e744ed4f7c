"""FulfilmentQueue consumer: sends each recorded fulfilment to Pay1st (contract §12).

Partial batch responses: a failed message is retried by SQS on its own and, after maxReceiveCount,
moved to the dead-letter queue (alarmed); the others in the batch are not held back. A message that can
never be delivered is moved to the dead-letter queue at once (``payments.fulfilment.send_fulfilment``).
The use case is imported by the first message, not at cold start (budget: <= 1.2x ``import boto3``).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pay1st_partner import runtime

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


@functools.cache
def processor() -> BatchProcessor:
    """Powertools' batch processor, built by the first batch: its package imports every event data class
    (tens of milliseconds), which a cold start need not pay before there is a message to process."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    # A batch where every record failed is reported item by item too (rather than raised): SQS then retries
    # each message on its own schedule, exactly as for a partial failure.
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> str:
    from pay1st_partner.payments.fulfilment import SqsDeadLetters, send_fulfilment

    dead_letter_url = runtime.settings().fulfilment_dead_letter_queue_url
    return send_fulfilment(
        record.body,
        repository=runtime.payments(),
        gateway=runtime.gateway(),
        dead_letters=SqsDeadLetters(runtime.boto3_client("sqs"), dead_letter_url)
        if dead_letter_url
        else None,
        deadline=runtime.deadline_for(lambda_context),
        **_attempt_of(record),
    )


def _attempt_of(record: SQSRecord) -> dict[str, Any]:
    """Which delivery attempt this is, from the message's SQS attributes (kept with the delivery)."""
    from pay1st_partner.clock import isoformat

    found: dict[str, Any] = {}
    attributes = record.raw_event.get("attributes") or {}
    if str(attributes.get("ApproximateReceiveCount", "")).isdigit():
        found["attempt"] = int(attributes["ApproximateReceiveCount"])
    if str(attributes.get("ApproximateFirstReceiveTimestamp", "")).isdigit():
        first = datetime.fromtimestamp(int(attributes["ApproximateFirstReceiveTimestamp"]) / 1000, UTC)
        found["first_attempt_at"] = isoformat(first)
    return found


def handle_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor(), context=context
        )
    )


lambda_handler = runtime.lambda_entry_point(handle_batch)
