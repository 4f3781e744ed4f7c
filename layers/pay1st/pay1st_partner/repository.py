"""The payments table: one item per partnerReference, changed only through conditional writes.

Item layout (DynamoDB attribute names):

- ``partnerReference`` (key), ``reference`` (Pay1st's id; GSI ``byReference``), ``status``, ``amount``,
  ``currencyCode``, ``countryCode``, ``products``, ``metadata``, ``fingerprint``, ``channelId``,
  ``createdAt``, ``updatedAt``, ``lastCheckedAt``, ``statusHistory``, ``lastUnknownStatus``, ``conflicts``,
  ``fulfilment``.
- Money (``amount``, product ``price``) is stored as decimal *text*: a DynamoDB number would drop the
  trailing zero of ``250.50``, and the partner should read back exactly what it sent.
- ``openMarker = "OPEN"`` while the payment has a gateway reference and a non-final status (sparse GSI
  ``openPayments``, sorted by ``updatedAt``). ``updatedAt`` moves on every write *including* a status
  check, so the poller works round-robin through open payments instead of re-checking the oldest ones.
- The transactional outbox: ``outbox`` (map event id → event JSON), ``outboxMarker = "PENDING"`` and
  ``outboxSince`` while it holds anything (sparse GSI ``pendingEvents``). A transition sets the status and
  adds its event in ONE conditional ``update_item``, so an event exists iff its transition committed.

Every status change reads the item, asks :func:`pay1st_partner.state.decide`, then writes with the
condition "status is still what I read". A lost race simply re-reads and decides again, so duplicates and
out-of-order reports need no locks and can never regress a status.

Not Powertools Idempotency for create: its stored response would hold the checkout URL (which carries the
access token and must never be stored), and it cannot answer 409 for a different body with our codes. The
conditional put in :meth:`PaymentRepository.claim` on ``partnerReference`` is the idempotency key instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pay1st.models import CreatedPayment, FulfilmentItem, MetadataItem, PaymentRequest, Product

from pay1st_partner import state
from pay1st_partner.errors import PaymentConflict, PaymentNotFound

OPEN_MARKER = "OPEN"
OUTBOX_PENDING = "PENDING"
OPEN_PAYMENTS_INDEX = "openPayments"
PENDING_EVENTS_INDEX = "pendingEvents"
BY_REFERENCE_INDEX = "byReference"
EVENT_SOURCE = "pay1st.partner"
# A lost race re-reads and decides again; more than a few rounds means something is badly wrong.
_MAX_WRITE_ATTEMPTS = 5
_MAX_CONFLICTS_KEPT = 20

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC with milliseconds and ``Z``: sorts correctly as a string (GSI sort keys)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`isoformat` (also reads any ISO-8601 time with ``Z`` or an offset)."""
    moment = datetime.fromisoformat(text)  # Python 3.11+ reads the trailing "Z"
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def age_seconds(text: str, now: datetime) -> float:
    """Seconds from the stored time ``text`` to ``now``."""
    return (now - parse_iso(text)).total_seconds()


def _decimal_text(value: Decimal) -> str:
    """Canonical text of an amount: 250.50 and 250.5 are the same money."""
    normalized = value.normalize()
    return format(normalized, "f") if normalized != 0 else "0"


def amount_text(value: Decimal) -> str:
    """An amount as written by the partner, in plain notation (``250.50`` stays ``250.50``)."""
    return format(value, "f")


def _sha256_json(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint(request: PaymentRequest) -> str:
    """What makes two create requests "the same payment": amount, currency, country and products."""
    return _sha256_json(
        {
            "amount": _decimal_text(request.amount),
            "currencyCode": request.currency_code,
            "countryCode": request.country_code,
            "products": [
                {
                    "title": product.title,
                    "sku": product.sku,
                    "price": _decimal_text(product.price),
                    "quantity": product.quantity,
                    "currencyCode": product.currency_code,
                }
                for product in request.products
            ],
        }
    )


def fulfilment_fingerprint(items: Sequence[FulfilmentItem]) -> str:
    """Sku, quantity and status only: a retried fulfilment with a later default time is the same one."""
    return _sha256_json(
        [
            {"sku": item.sku, "quantity": item.quantity, "fulfilmentStatus": item.fulfilment_status}
            for item in items
        ]
    )


class ReferenceMismatch(Exception):
    """A status report names a different Pay1st reference than the one stored for the partnerReference."""


@dataclass(frozen=True)
class OutboxEvent:
    """One payment event waiting on the item's outbox until EventBridge has it.

    ``event_id`` is ``"{partnerReference}:{status}"``: stable across re-publication, so consumers dedupe on it.
    """

    event_id: str
    partner_reference: str
    detail_type: str
    detail: Mapping[str, Any]

    def to_json(self) -> str:
        return json.dumps(
            {"eventId": self.event_id, "detailType": self.detail_type, "detail": dict(self.detail)},
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, partner_reference: str, text: str) -> OutboxEvent:
        data = json.loads(text)
        return cls(
            event_id=data["eventId"],
            partner_reference=partner_reference,
            detail_type=data["detailType"],
            detail=data["detail"],
        )


@dataclass(frozen=True)
class PaymentRecord:
    partner_reference: str
    reference: str | None
    status: str
    amount: Decimal
    currency_code: str
    country_code: str
    products: tuple[Product, ...]
    metadata: tuple[MetadataItem, ...]
    fingerprint: str
    channel_id: str | None
    created_at: str
    updated_at: str
    last_checked_at: str | None
    fulfilment: Mapping[str, Any] | None
    # Beyond the agreed API: diagnostics the status route and the tests read.
    last_unknown_status: str | None = None
    conflicts: tuple[Mapping[str, Any], ...] = ()
    pending_event_ids: tuple[str, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return state.is_open(self.status)

    @property
    def is_final(self) -> bool:
        return state.is_final(self.status)

    def fulfilment_items(self) -> tuple[FulfilmentItem, ...]:
        """The recorded fulfilment as the gateway client's items (for the §12 notification)."""
        if not self.fulfilment:
            return ()
        return tuple(
            FulfilmentItem(
                sku=item["sku"],
                quantity=int(item["quantity"]),
                fulfilment_time=parse_iso(item["fulfilmentTime"]),
                fulfilment_status=item["fulfilmentStatus"],
            )
            for item in self.fulfilment.get("items", ())
        )


@dataclass(frozen=True)
class Claim:
    created: bool  # False → ``record`` is the payment that already held this partnerReference
    record: PaymentRecord


@dataclass(frozen=True)
class Transition:
    """The result of reporting a status: whether it was applied and the event it produced, if any."""

    verdict: state.Verdict
    previous_status: str
    status: str  # the reported status
    record: PaymentRecord  # the item after the write (or as read, when nothing was written)
    event: OutboxEvent | None = None

    @property
    def applied(self) -> bool:
        return self.verdict is state.Verdict.APPLY


def is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _product_to_item(product: Product) -> dict[str, Any]:
    return {
        "title": product.title,
        "sku": product.sku,
        "price": amount_text(product.price),
        "quantity": product.quantity,
        "currencyCode": product.currency_code,
    }


def _record_from(data: Mapping[str, Any]) -> PaymentRecord:
    """Map a deserialized item to the domain record (DynamoDB numbers come back as Decimal)."""
    fulfilment = data.get("fulfilment")
    if fulfilment is not None:
        fulfilment = {
            **fulfilment,
            "items": [{**item, "quantity": int(item["quantity"])} for item in fulfilment.get("items", [])],
        }
    return PaymentRecord(
        partner_reference=data["partnerReference"],
        reference=data.get("reference"),
        status=data["status"],
        amount=Decimal(data["amount"]),
        currency_code=data["currencyCode"],
        country_code=data["countryCode"],
        products=tuple(
            Product(
                title=p["title"],
                sku=p["sku"],
                price=Decimal(p["price"]),
                quantity=int(p["quantity"]),
                currency_code=p["currencyCode"],
            )
            for p in data.get("products", [])
        ),
        metadata=tuple(MetadataItem(key=m["key"], value=m["value"]) for m in data.get("metadata", [])),
        fingerprint=data.get("fingerprint", ""),
        channel_id=data.get("channelId"),
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
        last_checked_at=data.get("lastCheckedAt"),
        fulfilment=fulfilment,
        last_unknown_status=data.get("lastUnknownStatus"),
        conflicts=tuple(data.get("conflicts", [])),
        pending_event_ids=tuple(sorted(data.get("outbox", {}))),
    )


class PaymentRepository:
    def __init__(self, table_name: str, *, client: Any, clock: Callable[[], datetime] = utcnow) -> None:
        self._table = table_name
        self._client = client
        self._clock = clock

    # ----------------------------------------------------------------- reads

    def _read(self, partner_reference: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"partnerReference": {"S": partner_reference}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get(self, partner_reference: str) -> PaymentRecord | None:
        data = self._read(partner_reference)
        return _record_from(data) if data else None

    def _require(self, partner_reference: str) -> dict[str, Any]:
        data = self._read(partner_reference)
        if data is None:
            raise PaymentNotFound()
        return data

    def find_by_reference(self, reference: str) -> PaymentRecord | None:
        response = self._client.query(
            TableName=self._table,
            IndexName=BY_REFERENCE_INDEX,
            KeyConditionExpression="#ref = :ref",
            ExpressionAttributeNames={"#ref": "reference"},
            ExpressionAttributeValues={":ref": {"S": reference}},
            Limit=1,
        )
        items = response.get("Items", [])
        if not items:
            return None
        # The index is eventually consistent: re-read the item itself.
        return self.get(items[0]["partnerReference"]["S"])

    def open_payments(self, *, older_than: datetime, limit: int) -> list[PaymentRecord]:
        """Open payments not written (or checked) since ``older_than``, least recently touched first."""
        response = self._client.query(
            TableName=self._table,
            IndexName=OPEN_PAYMENTS_INDEX,
            KeyConditionExpression="openMarker = :open AND updatedAt < :cutoff",
            ExpressionAttributeValues={":open": {"S": OPEN_MARKER}, ":cutoff": {"S": isoformat(older_than)}},
            ScanIndexForward=True,
            Limit=limit,
        )
        return [_record_from(from_item(item)) for item in response.get("Items", [])]

    def pending_events(self, *, older_than: datetime, limit: int) -> list[OutboxEvent]:
        """Events committed before ``older_than`` and still not cleared (their publisher may have died)."""
        response = self._client.query(
            TableName=self._table,
            IndexName=PENDING_EVENTS_INDEX,
            KeyConditionExpression="outboxMarker = :pending AND outboxSince < :cutoff",
            ExpressionAttributeValues={
                ":pending": {"S": OUTBOX_PENDING},
                ":cutoff": {"S": isoformat(older_than)},
            },
            ScanIndexForward=True,
            Limit=limit,
        )
        events: list[OutboxEvent] = []
        # The index projects keys only: read each item for its outbox.
        for key in response.get("Items", []):
            data = self._read(key["partnerReference"]["S"])
            if data is None:
                continue
            for text in data.get("outbox", {}).values():
                events.append(OutboxEvent.from_json(data["partnerReference"], text))
        return events

    # ------------------------------------------------------------ create flow

    def claim(self, request: PaymentRequest, fingerprint: str, channel_id: str | None) -> Claim:
        """Claim ``partnerReference`` for a create (conditional put of a CREATING item)."""
        now = isoformat(self._clock())
        values: dict[str, Any] = {
            "partnerReference": request.partner_reference,
            "status": state.CREATING,
            "amount": amount_text(request.amount),
            "currencyCode": request.currency_code,
            "countryCode": request.country_code,
            "products": [_product_to_item(p) for p in request.products],
            "metadata": [{"key": m.key, "value": m.value} for m in request.metadata],
            "fingerprint": fingerprint,
            "createdAt": now,
            "updatedAt": now,
            "statusHistory": [{"status": state.CREATING, "at": now, "source": "create"}],
            "outbox": {},
        }
        if channel_id is not None:
            values["channelId"] = channel_id
        for _ in range(_MAX_WRITE_ATTEMPTS):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=_to_item(values),
                    ConditionExpression="attribute_not_exists(partnerReference)",
                )
                return Claim(created=True, record=_record_from(values))
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
            existing = self.get(request.partner_reference)
            if existing is not None:
                return Claim(created=False, record=existing)
            # Released between our put and our read: try the put again.
        raise RuntimeError("could not claim the partnerReference after repeated races")

    def mark_created(
        self, partner_reference: str, created: CreatedPayment, *, current: PaymentRecord | None = None
    ) -> PaymentRecord:
        """CREATING/CREATE_UNKNOWN → the gateway's answer (NEW or PENDING), with the Pay1st reference.

        An ordinary transition (conditional write plus its outbox event, e.g. "Payment Pending"). If a
        webhook adopted the payment first with the same reference, that is the same payment moved on and
        is returned as it is; another reference raises :class:`PaymentConflict`. ``current``: the claimed
        record, if the caller has it (saves a read).
        """
        status = created.status if created.status in (state.NEW, state.PENDING) else state.NEW
        try:
            transition = self.apply_status(
                partner_reference, status, source="create", reference=created.reference, current=current
            )
        except ReferenceMismatch:
            raise PaymentConflict(
                "The payment changed while it was being created.", code="payment_conflict"
            ) from None
        return transition.record

    def mark_outcome_unknown(self, partner_reference: str, *, current: PaymentRecord | None = None) -> None:
        """CREATING → CREATE_UNKNOWN; a no-op if something (a webhook) already moved it on.

        Not through :meth:`apply_status`: no gateway report can make this transition (it is ours alone).
        """
        record = current
        for _ in range(_MAX_WRITE_ATTEMPTS):
            if record is None:
                record = self.get(partner_reference)
            if record is None or record.status != state.CREATING:
                return
            written = self._write_transition(record, state.CREATE_UNKNOWN, source="create", reference=None)
            if written is not None:
                return
            record = None  # changed since read: look again
        raise RuntimeError("could not mark the create outcome unknown after repeated races")

    def release_claim(self, partner_reference: str) -> None:
        """The gateway refused the create cleanly: forget the claim so the partner may try again."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"partnerReference": {"S": partner_reference}},
                ConditionExpression="#status = :creating",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":creating": {"S": state.CREATING}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # ------------------------------------------------------------ transitions

    def apply_status(
        self,
        partner_reference: str,
        status: str,
        *,
        source: str,
        reference: str | None = None,
        current: PaymentRecord | None = None,
    ) -> Transition:
        """Report a gateway status for a payment; applies it only if the transition graph allows it.

        ``reference`` (optional) is the Pay1st reference the report came with: a payment still waiting
        for its create answer adopts it; a payment with a different one raises :class:`ReferenceMismatch`.
        ``current`` (optional) is the payment as the caller just read it: the first attempt decides on it
        instead of reading again. That is safe even if it is out of date: the write's condition "status is
        still what I read" fails and the item is read again. Raises :class:`PaymentNotFound` when there
        is no such payment.
        """
        if current is not None and current.partner_reference != partner_reference:
            raise ValueError("current is another payment")
        record = current
        for _ in range(_MAX_WRITE_ATTEMPTS):
            if record is None:
                record = _record_from(self._require(partner_reference))
            if reference is not None and record.reference is not None and record.reference != reference:
                raise ReferenceMismatch(f"payment {partner_reference} has another Pay1st reference")
            decision = state.decide(record.status, status)
            if decision.verdict is state.Verdict.UNKNOWN:
                return Transition(decision.verdict, record.status, status, self._note_unknown(record, status))
            if decision.verdict is state.Verdict.CONFLICT:
                return Transition(
                    decision.verdict, record.status, status, self._note_conflict(record, status, source)
                )
            if not decision.applies:
                return Transition(decision.verdict, record.status, status, record)
            if record.reference is None and reference is None:
                # Nothing to query the gateway with later: a transition needs the Pay1st reference.
                raise ValueError("a payment without a Pay1st reference needs one to change status")
            written = self._write_transition(record, status, source=source, reference=reference)
            if written is not None:
                return written
            # Lost a race: someone else changed the item between our read and our write; decide again.
            record = None
        raise RuntimeError("could not apply the status after repeated races")

    def _write_transition(
        self, record: PaymentRecord, status: str, *, source: str, reference: str | None
    ) -> Transition | None:
        """The one writer of status changes: ``record`` → ``status`` and its outbox event, in one update.

        Conditional on the status (and the missing reference, when adopting one) still being as in
        ``record``; None when that no longer holds (the caller reads again and decides again).
        """
        now = isoformat(self._clock())
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":status": status,
            ":current": record.status,
            ":now": now,
            ":empty": [],
            ":hist": [{"status": status, "at": now, "source": source}],
        }
        sets = [
            "#status = :status",
            "updatedAt = :now",
            "statusHistory = list_append(if_not_exists(statusHistory, :empty), :hist)",
        ]
        condition = "#status = :current"
        new_reference = record.reference
        if record.reference is None and reference is not None:
            names["#ref"] = "reference"
            values[":ref"] = reference
            sets.append("#ref = :ref")
            condition += " AND attribute_not_exists(#ref)"
            new_reference = reference
        removes: list[str] = []
        if state.is_final(status):
            removes.append("openMarker")
        elif new_reference is not None:  # the poller can only query payments the gateway knows
            values[":open"] = OPEN_MARKER
            sets.append("openMarker = :open")

        event: OutboxEvent | None = None
        detail_type = state.detail_type(status)
        if detail_type is not None:
            event = OutboxEvent(
                event_id=f"{record.partner_reference}:{status}",
                partner_reference=record.partner_reference,
                detail_type=detail_type,
                detail={
                    "eventId": f"{record.partner_reference}:{status}",
                    "partnerReference": record.partner_reference,
                    "reference": new_reference,
                    "status": status,
                    "previousStatus": record.status,
                    "amount": amount_text(record.amount),
                    "currencyCode": record.currency_code,
                    "countryCode": record.country_code,
                    "occurredAt": now,
                },
            )
            names["#eid"] = event.event_id
            values[":event"] = event.to_json()
            values[":pending"] = OUTBOX_PENDING
            sets += [
                "outbox.#eid = :event",
                "outboxMarker = :pending",
                "outboxSince = if_not_exists(outboxSince, :now)",
            ]

        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"partnerReference": {"S": record.partner_reference}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        after = _record_from(from_item(response["Attributes"]))
        return Transition(state.Verdict.APPLY, record.status, status, after, event)

    def _note_unknown(self, record: PaymentRecord, status: str) -> PaymentRecord:
        response = self._client.update_item(
            TableName=self._table,
            Key={"partnerReference": {"S": record.partner_reference}},
            UpdateExpression="SET lastUnknownStatus = :status, lastUnknownStatusAt = :now",
            ConditionExpression="attribute_exists(partnerReference)",
            ExpressionAttributeValues=_to_item({":status": status, ":now": isoformat(self._clock())}),
            ReturnValues="ALL_NEW",
        )
        return _record_from(from_item(response["Attributes"]))

    def _note_conflict(self, record: PaymentRecord, status: str, source: str) -> PaymentRecord:
        # One entry per conflicting status is enough to alarm on and investigate; repeats add nothing.
        seen = {conflict.get("status") for conflict in record.conflicts}
        if status in seen or len(record.conflicts) >= _MAX_CONFLICTS_KEPT:
            return record
        response = self._client.update_item(
            TableName=self._table,
            Key={"partnerReference": {"S": record.partner_reference}},
            UpdateExpression="SET conflicts = list_append(if_not_exists(conflicts, :empty), :conflict)",
            ConditionExpression="attribute_exists(partnerReference)",
            ExpressionAttributeValues=_to_item(
                {
                    ":empty": [],
                    ":conflict": [
                        {
                            "status": status,
                            "recordedStatus": record.status,
                            "at": isoformat(self._clock()),
                            "source": source,
                        }
                    ],
                }
            ),
            ReturnValues="ALL_NEW",
        )
        return _record_from(from_item(response["Attributes"]))

    def touch_checked(self, partner_reference: str) -> PaymentRecord | None:
        """Note a status check (moves ``updatedAt`` too: see the module docstring); the updated record."""
        now = isoformat(self._clock())
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"partnerReference": {"S": partner_reference}},
                UpdateExpression="SET lastCheckedAt = :now, updatedAt = :now",
                ConditionExpression="attribute_exists(partnerReference)",
                ExpressionAttributeValues={":now": {"S": now}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            return None
        return _record_from(from_item(response["Attributes"]))

    # ----------------------------------------------------------------- outbox

    def clear_event(self, partner_reference: str, event_id: str) -> None:
        """Drop a published event from the outbox; the markers go when the outbox is empty."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"partnerReference": {"S": partner_reference}},
                UpdateExpression="REMOVE outbox.#eid",
                ConditionExpression="attribute_exists(outbox.#eid)",
                ExpressionAttributeNames={"#eid": event_id},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return  # already cleared (a concurrent publisher got there first)
            raise
        if response["Attributes"].get("outbox", {}).get("M"):
            return
        try:
            # Conditional: an event appended since our removal keeps the markers.
            self._client.update_item(
                TableName=self._table,
                Key={"partnerReference": {"S": partner_reference}},
                UpdateExpression="REMOVE outboxMarker, outboxSince",
                ConditionExpression="size(outbox) = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # -------------------------------------------------------------- fulfilment

    def record_fulfilment(self, partner_reference: str, items: Sequence[FulfilmentItem]) -> PaymentRecord:
        """Record the fulfilled products once, on a SUCCESSFUL payment; the same items again are a no-op."""
        digest = fulfilment_fingerprint(items)
        fulfilment = {
            "items": [
                {
                    "sku": item.sku,
                    "quantity": item.quantity,
                    "fulfilmentStatus": item.fulfilment_status,
                    "fulfilmentTime": isoformat(item.fulfilment_time),
                }
                for item in items
            ],
            "fingerprint": digest,
            "recordedAt": isoformat(self._clock()),
        }
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"partnerReference": {"S": partner_reference}},
                UpdateExpression="SET fulfilment = :fulfilment",
                ConditionExpression="#status = :successful AND attribute_not_exists(fulfilment)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_to_item(
                    {":fulfilment": fulfilment, ":successful": state.SUCCESSFUL}
                ),
                ReturnValues="ALL_NEW",
            )
            return _record_from(from_item(response["Attributes"]))
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
        current = _record_from(self._require(partner_reference))
        if current.status != state.SUCCESSFUL:
            raise PaymentConflict(
                f"The payment is {current.status}, not SUCCESSFUL.", code="payment_not_successful"
            )
        if current.fulfilment is not None and current.fulfilment.get("fingerprint") == digest:
            return current
        raise PaymentConflict(
            "A different fulfilment is already recorded for this payment.", code="fulfilment_conflict"
        )

    def mark_fulfilment_delivered(self, partner_reference: str) -> None:
        """Note that the gateway accepted the §12 notification (idempotent: the first time is kept)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"partnerReference": {"S": partner_reference}},
                UpdateExpression="SET fulfilment.deliveredAt = if_not_exists(fulfilment.deliveredAt, :now)",
                ConditionExpression="attribute_exists(fulfilment)",
                ExpressionAttributeValues={":now": {"S": isoformat(self._clock())}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise PaymentConflict(
                    "No fulfilment is recorded for this payment.", code="fulfilment_conflict"
                ) from None
            raise
