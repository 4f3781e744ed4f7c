"""The payments store on DynamoDB (PaymentsTable): every write conditional, one item per payment.

The item layout is :mod:`pay1st_partner.store.items`; the rules that decide what to write are the
domain's (:mod:`pay1st_partner.payments.repository`). Expressions here only encode those decisions as conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner import state
from pay1st_partner.observability import logger
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import from_item, is_condition_failure, outcome_update, to_item
from pay1st_partner.store.dynamodb.attempts import DynamoDBAttemptWrites
from pay1st_partner.store.dynamodb.fulfilment import DynamoDBFulfilmentWrites
from pay1st_partner.store.dynamodb.ops import DynamoDBOperatorAccess
from pay1st_partner.store.dynamodb.owed import NO_OWED, DynamoDBOwedWrites, final_schedule
from pay1st_partner.store.dynamodb.refunds import DynamoDBRefundWrites, outbox_sets
from pay1st_partner.store.dynamodb.steps import DynamoDBStepWrites
from pay1st_partner.store.dynamodb.transactions import DynamoDBTransactionWrites
from pay1st_partner.store.dynamodb.webhook import DynamoDBWebhookWrites
from pay1st_partner.store.items import (
    GAVE_UP_MARKER,
    OPEN_MARKER,
    OUTBOX_PENDING,
    OWED_MARKER,
    PENDING_EVENTS_INDEX,
    WATCH_LIST_INDEX,
    history_entry,
    marker_partitions,
    payment_fields,
    record_from_item,
    sharded,
    stays_watched,
)
from pay1st_partner.store.port import StatusChange, StatusQueryNote


def _query_note(
    note: StatusQueryNote, names: dict[str, str], values: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """The SET and REMOVE clauses that add ``note`` to ``statusQueries`` (names and values added in place)."""
    if note.create:
        values[":queries"] = {note.key: dict(note.entry)}
        return ["statusQueries = :queries"], []
    names["#query"] = note.key
    values[":query"] = dict(note.entry)
    removes = []
    for n, key in enumerate(note.drop):
        names[f"#oldquery{n}"] = key
        removes.append(f"statusQueries.#oldquery{n}")
    return ["statusQueries.#query = :query"], removes


class DynamoDBPaymentStore(
    DynamoDBWebhookWrites,
    DynamoDBRefundWrites,
    DynamoDBOperatorAccess,
    DynamoDBAttemptWrites,
    DynamoDBStepWrites,
    DynamoDBTransactionWrites,
    DynamoDBOwedWrites,
    DynamoDBFulfilmentWrites,
):
    def __init__(self, table_name: str, *, client: Any) -> None:
        self._table = table_name
        self._client = client

    # ----------------------------------------------------------------- reads

    def get(self, partner_reference: str) -> PaymentRecord | None:
        data = self._read(partner_reference)
        return record_from_item(data) if data else None

    def _watched(
        self, markers: tuple[str, ...], below: str, limit: int, start: str = ""
    ) -> list[PaymentRecord]:
        """Up to ``limit`` payments of the watch list's ``markers`` shards, earliest ``nextCheckAt`` (from
        ``start``) first, each read by its key (the index holds keys only; one vanished meanwhile is skipped).
        Each record's ``next_check_at`` is the index's, where the read found it: a write between the query and
        the item's read (a webhook moving it on) must not move where the next page starts."""
        shards = [shard for marker in markers for shard in marker_partitions(marker, legacy=False)]
        keys = self._merged(
            self._shards(WATCH_LIST_INDEX, "openMarker", shards, "nextCheckAt", below, limit, start), limit
        )
        records = []
        for key in keys:
            data = self._read(key["partnerReference"]["S"])
            if data is not None:
                records.append(record_from_item({**data, "nextCheckAt": key["nextCheckAt"]["S"]}))
        return records

    def open_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        # Operators only: every watched payment, then the open ones not written since older_than.
        records = self._watched((OPEN_MARKER,), "~", 1_000_000)
        found = sorted(
            (r for r in records if r.is_open and r.updated_at < older_than), key=lambda r: r.updated_at
        )
        return found[:limit]

    def due_payments(self, *, due_before: str, limit: int, due_from: str = "") -> list[PaymentRecord]:
        # Open payments, and those owed a confirmation that are not open (OWED#n: final, or no reference).
        return self._watched((OPEN_MARKER, OWED_MARKER), due_before, limit, due_from)

    def gave_up_payments(self, *, limit: int) -> list[PaymentRecord]:
        return self._watched((GAVE_UP_MARKER,), "~", limit)

    def outbox_events(self, partner_reference: str) -> list[OutboxEvent]:
        data = self._read(partner_reference)
        if data is None:
            return []
        return [OutboxEvent.from_stored(data, text) for text in data.get("outbox", {}).values()]

    def pending_events(self, *, older_than: str, limit: int) -> list[OutboxEvent]:
        found = self._shards(
            PENDING_EVENTS_INDEX,
            "outboxMarker",
            marker_partitions(OUTBOX_PENDING),
            "outboxSince",
            older_than,
            limit,
        )
        keys = self._merged(found, limit)
        events: list[OutboxEvent] = []
        # The index projects keys only: read each item for its outbox.
        for key in keys:
            data = self._read(key["partnerReference"]["S"])
            if data is None:
                continue
            for text in data.get("outbox", {}).values():
                events.append(OutboxEvent.from_stored(data, text))
        return events

    # ---------------------------------------------------------------- writes

    def put_claim(self, item: Mapping[str, Any]) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(partnerReference)",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            # Taken: by this very claim, applied before (a retried write), or by another request.
            claim_id = str(item.get("claimId") or "")
            return bool(claim_id) and self._own_claim(item["partnerReference"], (), claim_id) is not None
        return True

    def delete_claim(self, partner_reference: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                ConditionExpression="#status = :creating",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":creating": {"S": state.CREATING}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def write_transition(self, change: StatusChange) -> PaymentRecord | None:
        record, status, now = change.record, change.status, change.at
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":status": status,
            ":current": record.status,
            ":now": now,
            ":empty": [],
            ":hist": [history_entry(status, now, change.source)],
        }
        sets = [
            "#status = :status",
            "updatedAt = :now",
            "statusHistory = list_append(if_not_exists(statusHistory, :empty), :hist)",
        ]
        condition = "#status = :current"
        new_reference = record.reference
        if record.reference is None and change.adopt_reference is not None:
            names["#ref"] = "reference"
            values[":ref"] = change.adopt_reference
            sets.append("#ref = :ref")
            condition += " AND attribute_not_exists(#ref)"
            # The reference is the answer for the attempt read: not adopted once a retried create moved on.
            if record.attempt_reference is None:
                condition += " AND attribute_not_exists(attemptReference)"
            else:
                values[":attempt"] = record.attempt_reference
                condition += " AND attemptReference = :attempt"
            new_reference = change.adopt_reference
        removes: list[str] = []
        if not record.owed:  # read with nothing owed: still so (or the schedule below would drop it)
            values[":zero"] = 0
            condition += f" AND {NO_OWED}"
        final = state.is_final(status)
        paid = final and not record.owed and stays_watched(status, new_reference)
        if paid:
            # SUCCESSFUL stays on the watch list, its keys unchanged (no index write), until the fulfilment is
            # delivered: the poller republishes its event if the publisher dies, and counts PaidNotFulfilled.
            values[":open"] = sharded(OPEN_MARKER, record.partner_reference)
            sets += ["openMarker = :open", "nextCheckAt = if_not_exists(nextCheckAt, :now)"]
        elif final:  # off the watch list, unless something is owed (then OWED#n)
            final_schedule(record, sets, removes, values)
        elif new_reference is not None:  # the poller can only query payments the gateway knows
            values[":open"] = sharded(OPEN_MARKER, record.partner_reference)
            values[":next"] = change.next_check_at or now
            # Owed: due when the owed confirmation is (the slot's end), not later.
            next_check = "if_not_exists(nextCheckAt, :next)" if record.owed else ":next"
            sets += ["openMarker = :open", f"nextCheckAt = {next_check}"]
        if change.query is not None:
            sets_, removes_ = _query_note(change.query, names, values)
            sets += sets_
            removes += removes_
        events = () if change.event is None else (change.event,)
        # A SUCCESSFUL payment's event needs no pendingEvents marker: the watch list leads the poller to it.
        sets += outbox_sets(events, names, values, marked=not paid, payment=payment_fields(record))
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        update = {
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }
        after = self._update(record.partner_reference, **update)
        if after is not None and change.receipt is not None:
            # Written after the transition, not in a transaction with it (which costs each write twice): a
            # crash in between leaves the webhook "received", and its redelivery is processed again, harmlessly.
            try:
                self._client.update_item(**outcome_update(change.receipt))
            except ClientError as exc:
                logger.warning(
                    "webhook outcome not saved",
                    extra={"event_id": change.receipt.event_id, "error_type": type(exc).__name__},
                )
        return after

    def note_unknown(self, partner_reference: str, status: str, at: str) -> PaymentRecord:
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(partner_reference),
            UpdateExpression="SET lastUnknownStatus = :status, lastUnknownStatusAt = :now",
            ConditionExpression="attribute_exists(partnerReference)",
            ExpressionAttributeValues=to_item({":status": status, ":now": at}),
            ReturnValues="ALL_NEW",
        )
        return record_from_item(from_item(response["Attributes"]))

    def add_conflict(self, partner_reference: str, conflict: Mapping[str, Any]) -> PaymentRecord:
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key(partner_reference),
            UpdateExpression="SET conflicts = list_append(if_not_exists(conflicts, :empty), :conflict)",
            ConditionExpression="attribute_exists(partnerReference)",
            ExpressionAttributeValues=to_item({":empty": [], ":conflict": [dict(conflict)]}),
            ReturnValues="ALL_NEW",
        )
        return record_from_item(from_item(response["Attributes"]))

    def claim_status_query(self, partner_reference: str, *, at: str, cutoff: str, priority: bool) -> bool:
        condition = "attribute_not_exists(lastQueryAt) OR lastQueryAt <= :cutoff"
        if priority:
            condition += " OR lastQueryPriority = :no"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                UpdateExpression="SET lastQueryAt = :now, lastQueryPriority = :priority",
                ConditionExpression=f"attribute_exists(partnerReference) AND ({condition})",
                ExpressionAttributeValues=to_item(
                    {
                        ":now": at,
                        ":cutoff": cutoff,
                        ":priority": priority,
                        **({":no": False} if priority else {}),
                    }
                ),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def touch_checked(
        self, partner_reference: str, at: str, *, query: StatusQueryNote | None = None
    ) -> PaymentRecord | None:
        return self._note_check(partner_reference, at, query, condition="attribute_exists(partnerReference)")

    def schedule_check(
        self, partner_reference: str, at: str, next_check_at: str, *, query: StatusQueryNote | None = None
    ) -> PaymentRecord | None:
        return self._note_check(
            partner_reference,
            at,
            query,
            # Open, not given up (GAVEUP#n, give_up's): a check of a given-up payment must not put it back on
            # the schedule; it falls back to touch_checked.
            # Nothing owed: an owed confirmation's nextCheckAt (the slot's end) is never pushed later.
            condition=f"begins_with(openMarker, :open_prefix) AND {NO_OWED}",
            sets=["nextCheckAt = :next", "openMarker = :open"],
            values={
                ":next": next_check_at,
                ":open": sharded(OPEN_MARKER, partner_reference),
                ":open_prefix": OPEN_MARKER,
                ":zero": 0,
            },
        )

    def _note_check(
        self,
        partner_reference: str,
        at: str,
        query: StatusQueryNote | None,
        *,
        condition: str,
        sets: list[str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> PaymentRecord | None:
        """One check's write: ``lastCheckedAt``/``updatedAt``, the extra ``sets``, and the query's history entry."""
        names: dict[str, str] = {}
        all_values: dict[str, Any] = {":now": at, **(values or {})}
        all_sets = ["lastCheckedAt = :now", "updatedAt = :now", *(sets or [])]
        removes: list[str] = []
        if query is not None:
            query_sets, removes = _query_note(query, names, all_values)
            all_sets += query_sets
        expression = "SET " + ", ".join(all_sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return self._update(
            partner_reference,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=to_item(all_values),
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def give_up(self, partner_reference: str, at: str) -> PaymentRecord | None:
        return self._update(
            partner_reference,
            UpdateExpression="SET openMarker = :gaveup, nextCheckAt = :now, gaveUpAt = :now",
            ConditionExpression=f"begins_with(openMarker, :open) AND {NO_OWED}",
            ExpressionAttributeValues=to_item(
                {
                    ":now": at,
                    ":gaveup": sharded(GAVE_UP_MARKER, partner_reference),
                    ":open": OPEN_MARKER,
                    ":zero": 0,
                }
            ),
        )

    def clear_event(self, partner_reference: str, event_id: str) -> None:
        # The usual case, the outbox holding only this event: one conditional write drops it and the
        # markers together. Otherwise (more events wait, or it is already gone) the two writes below.
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                UpdateExpression="REMOVE outbox.#eid, outboxMarker, outboxSince",
                ConditionExpression="attribute_exists(outbox.#eid) AND size(outbox) = :one",
                ExpressionAttributeNames={"#eid": event_id},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            return
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
        after = self._update(
            partner_reference,
            UpdateExpression="REMOVE outbox.#eid",
            ConditionExpression="attribute_exists(outbox.#eid)",
            ExpressionAttributeNames={"#eid": event_id},
        )
        if after is None or after.pending_event_ids:
            return  # already cleared (a concurrent publisher got there first), or more events wait
        try:
            # Conditional: an event appended since our removal keeps the markers.
            self._client.update_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                UpdateExpression="REMOVE outboxMarker, outboxSince",
                ConditionExpression="size(outbox) = :zero",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
