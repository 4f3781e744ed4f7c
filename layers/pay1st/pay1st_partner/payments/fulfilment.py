"""Fulfilment: record what the partner delivered, then get the signed §12 notice to the gateway.

Two halves, joined by the FulfilmentQueue:

- ``request_fulfilment`` (POST /payments/{partnerReference}/fulfilment): only for a SUCCESSFUL payment;
  records the items on the payment once (same items again → same answer; different items → 409) and
  enqueues a message naming the payment. Standard SQS may deliver a message twice, so delivery is made
  idempotent by ``fulfilment.deliveredAt`` instead of message deduplication.
- ``deliver_fulfilment`` (the SQS consumer): sends §12 from what is recorded and marks it delivered;
  a failure raises, SQS retries it and, after maxReceiveCount, dead-letters it (alarmed).
- ``send_fulfilment`` (the sender's per-message entry): a message that can never be delivered (it names no
  recorded fulfilment, or Pay1st refuses the notice with a 4xx that no retry changes: 400/404/405, not
  401/403 or 429) is logged with Pay1st's reason, counted (``FulfilmentsFailed``, ``FulfilmentsUndeliverable``)
  and moved to the dead-letter queue by the sender itself, on that first receive. SQS's own redrive moves a
  message only after maxReceiveCount receives (12, one per 6-minute visibility timeout: about 72 minutes of
  refusals); the DLQ depth is what the alarm watches, so "promptly" is: in the DLQ within the invocation that
  found it undeliverable, the alarm within its one-minute period after. If that move fails, the message fails
  like any other and SQS's redrive still dead-letters it in the end.

The delivering attempt is kept in ``fulfilment.attempts`` by the write that marks the delivery, with the
message's receive count and first receive time (SQS's), so the attempts that failed before it are counted
and dated. A failed attempt writes nothing (no AWS call is added to the sender's path): its error class
and HTTP status are in the gateway client's log line and the FulfilmentsFailed metric. One entry per
accepted §12, and nothing is sent once ``deliveredAt`` is set: the list is as long as the duplicates that
raced (bounded by the messages of one payment in flight at once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pay1st.errors import InvalidRequestError
from pay1st.models import FulfilmentItem

from pay1st_partner.errors import FulfilmentNotQueued, InvalidRequest, PaymentNotFound
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.fulfilment_guard import refusal
from pay1st_partner.request_fields import object_list, reject_unknown, required_string

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient

    from pay1st_partner.payments.repository import PaymentRepository
    from pay1st_partner.records import PaymentRecord

MAX_ITEMS = 50
QUEUED = "QUEUED"
DELIVERED = "DELIVERED"
_REQUEST_FIELDS = frozenset({"products"})
_ITEM_FIELDS = frozenset({"sku", "quantity", "fulfilmentStatus", "fulfilmentTime"})
# A fulfilment time must be plausible: not before this bundle existed, not more than a clock skew ahead.
EARLIEST_FULFILMENT_TIME = datetime(2020, 1, 1, tzinfo=UTC)
MAX_FUTURE_SKEW = timedelta(days=1)


@dataclass(frozen=True)
class FulfilmentAccepted:
    partner_reference: str
    fulfilment_status: str  # QUEUED | DELIVERED

    def to_body(self) -> dict[str, Any]:
        return {"partnerReference": self.partner_reference, "fulfilmentStatus": self.fulfilment_status}


def _parse_time(value: object, *, now: datetime) -> datetime:
    """An ISO-8601 date-time with a zone, as UTC, between 2020 and a day from ``now``."""
    if not isinstance(value, str):
        raise InvalidRequest("products.fulfilmentTime: must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value)  # Python 3.11+ reads a trailing "Z"
    except ValueError:
        raise InvalidRequest("products.fulfilmentTime: must be an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidRequest("products.fulfilmentTime: must include a time zone (e.g. Z)")
    try:
        # Converted here, where it is still input: 9999-12-31T23:59:59-05:00 is past datetime's range in UTC.
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest("products.fulfilmentTime: is out of range") from None
    if not EARLIEST_FULFILMENT_TIME <= moment <= now + MAX_FUTURE_SKEW:
        raise InvalidRequest(
            "products.fulfilmentTime: must be after 2020-01-01 and not more than a day in the future"
        )
    return moment


def parse_fulfilment_request(
    body: Mapping[str, Any], *, now: datetime | None = None
) -> tuple[FulfilmentItem, ...]:
    """``{"products": [{"sku", "quantity", "fulfilmentStatus"?, "fulfilmentTime"?}]}`` → items."""
    reject_unknown(body, _REQUEST_FIELDS)
    moment = now or datetime.now(UTC)
    items = []
    for raw in object_list(body, "products", limit=MAX_ITEMS, required=True):
        reject_unknown(raw, _ITEM_FIELDS, "products.")
        # Empty strings pass here and are refused by FulfilmentItem's own validation (also a 400).
        sku = required_string(raw, "sku", max_length=100, where="products.")
        quantity = raw.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidRequest("products.quantity: must be an integer")
        status = "FULFILLED"
        if "fulfilmentStatus" in raw:
            status = required_string(raw, "fulfilmentStatus", max_length=40, where="products.")
        when = _parse_time(raw["fulfilmentTime"], now=moment) if "fulfilmentTime" in raw else moment
        items.append(
            FulfilmentItem(sku=sku, quantity=quantity, fulfilment_time=when, fulfilment_status=status)
        )
    return tuple(items)


def _check_against_payment(record: PaymentRecord, items: Sequence[FulfilmentItem]) -> None:
    """Only products of this payment, and never more of one than was bought."""
    bought: dict[str, int] = {}
    for product in record.products:
        bought[product.sku] = bought.get(product.sku, 0) + product.quantity
    claimed: dict[str, int] = {}
    for item in items:
        if item.sku not in bought:
            raise InvalidRequest(f"products.sku: {item.sku!r} is not a product of this payment")
        claimed[item.sku] = claimed.get(item.sku, 0) + item.quantity
        if claimed[item.sku] > bought[item.sku]:
            raise InvalidRequest(f"products.quantity: more of {item.sku!r} than the payment bought")


def queue_message(partner_reference: str) -> str:
    return json.dumps({"partnerReference": partner_reference}, separators=(",", ":"))


def request_fulfilment(
    partner_reference: str,
    items: Sequence[FulfilmentItem],
    *,
    repository: PaymentRepository,
    sqs: Any,
    queue_url: str,
) -> FulfilmentAccepted:
    record = repository.get(partner_reference)
    if record is None:
        raise PaymentNotFound()
    refused = refusal(record)
    if refused is not None and record.fulfilment is None:  # a recorded one is answered as recorded
        raise refused
    _check_against_payment(record, items)
    recorded = repository.record_fulfilment(partner_reference, items, current=record)  # 409: another body
    if recorded.fulfilment and recorded.fulfilment.get("deliveredAt"):
        return FulfilmentAccepted(partner_reference, DELIVERED)
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=queue_message(partner_reference))
    except Exception as exc:  # botocore's errors are many; any of them means "not queued"
        logger.exception("fulfilment recorded but not queued", extra={"partnerReference": partner_reference})
        raise FulfilmentNotQueued(
            "The fulfilment is recorded but not yet queued; repeat the request."
        ) from exc
    logger.info("fulfilment queued", extra={"partnerReference": partner_reference})
    return FulfilmentAccepted(partner_reference, QUEUED)


class UndeliverableFulfilment(Exception):
    """A queue message that can never be delivered: it names no deliverable fulfilment, or Pay1st refused the
    notice with a 4xx no retry changes. Retrying cannot help: ``send_fulfilment`` dead-letters it at once
    (the DLQ alarm is how an operator hears of it, which a log line alone would not do)."""


def parse_queue_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        raise UndeliverableFulfilment("message body is not JSON") from None
    partner_reference = data.get("partnerReference") if isinstance(data, dict) else None
    if not isinstance(partner_reference, str) or not partner_reference:
        raise UndeliverableFulfilment("message has no partnerReference")
    return partner_reference


def deliver_fulfilment(
    partner_reference: str,
    *,
    repository: PaymentRepository,
    gateway: Pay1stClient,
    deadline: float | None = None,
    attempt: int | None = None,
    first_attempt_at: str | None = None,
) -> str:
    """Send §12 for the recorded fulfilment; returns ``"delivered"`` or ``"already_delivered"``.

    Raises on any failure so that the queue retries (and finally dead-letters) the message.
    ``attempt`` / ``first_attempt_at``: the message's receive count and first receive time, when known.
    """
    record = repository.get(partner_reference)
    if record is None or not record.fulfilment or record.reference is None:
        raise UndeliverableFulfilment(f"no recorded fulfilment for payment {partner_reference!r}")
    if record.fulfilment.get("deliveredAt"):
        return "already_delivered"
    try:
        gateway.notify_fulfilment(record.reference, record.fulfilment_items(), deadline=deadline)
    except InvalidRequestError as exc:  # 400/404/405...: the same notice is refused the same way next time
        raise UndeliverableFulfilment(f"Pay1st refused the notice for {record.reference}: {exc}") from exc
    except Exception:
        count("FulfilmentsFailed")
        raise
    delivered: dict[str, Any] = {"outcome": "delivered"}
    if attempt is not None:
        delivered["attempt"] = attempt
    if first_attempt_at is not None:
        delivered["firstAttemptAt"] = first_attempt_at
    repository.mark_fulfilment_delivered(partner_reference, attempt=delivered)
    count("FulfilmentsDelivered")
    logger.info(
        "fulfilment delivered", extra={"partnerReference": partner_reference, "reference": record.reference}
    )
    return "delivered"


class DeadLetters(Protocol):
    def put(self, body: str, reason: str) -> None: ...


class SqsDeadLetters:
    """The fulfilment dead-letter queue, written by the sender itself (see the module's docstring)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def put(self, body: str, reason: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            # Why, for whoever reads the DLQ (SQS caps an attribute at 256 KB; a reason is a line).
            MessageAttributes={"undeliverableReason": {"DataType": "String", "StringValue": reason[:1000]}},
        )


def send_fulfilment(
    body: str,
    *,
    repository: PaymentRepository,
    gateway: Pay1stClient,
    dead_letters: DeadLetters | None,
    deadline: float | None = None,
    attempt: int | None = None,
    first_attempt_at: str | None = None,
) -> str:
    """One queue message: ``"delivered"``, ``"already_delivered"`` or ``"dead_lettered"``; raises for a
    failure worth retrying (SQS redelivers it). Without ``dead_letters``, an undeliverable message raises too."""
    partner_reference: str | None = None
    try:
        partner_reference = parse_queue_message(body)
        logger.append_keys(partnerReference=partner_reference)  # on the gateway client's lines too
        return deliver_fulfilment(
            partner_reference,
            repository=repository,
            gateway=gateway,
            deadline=deadline,
            attempt=attempt,
            first_attempt_at=first_attempt_at,
        )
    except UndeliverableFulfilment as exc:
        cause = exc.__cause__
        logger.error(
            "fulfilment undeliverable: retrying cannot deliver it",
            extra={
                "partnerReference": partner_reference,
                "reason": str(exc),
                "status": getattr(cause, "status", None),
                "error_code": getattr(cause, "error_code", None),
                "error_message": getattr(cause, "error_message", None),
                "session_id": getattr(cause, "session_id", None),
                "attempt": attempt,
            },
        )
        count("FulfilmentsFailed")
        count("FulfilmentsUndeliverable")
        if dead_letters is None:
            raise
        dead_letters.put(body, str(exc))  # if this fails, the message fails: SQS's redrive still applies
        return "dead_lettered"
    finally:
        logger.remove_keys(["partnerReference"])
