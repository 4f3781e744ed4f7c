"""The two writes of the webhook's path on the payments table, kept apart for size (mixed into
:class:`pay1st_partner.store.dynamodb.store.DynamoDBPaymentStore`): the read that also takes the status-query slot,
and the transition that carries the webhook's outcome (one TransactWriteItems over both tables). Each saves
one call per webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import from_item, is_condition_failure, outcome_update, to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.items import record_from_item
from pay1st_partner.store.port import QueryWanted, StatusChange, StatusQueryNote


class DynamoDBWebhookWrites(PaymentItemAccess):
    def get_claiming_query(
        self, partner_reference: str, *, at: str, cutoff: str, priority: bool, when: QueryWanted
    ) -> tuple[PaymentRecord | None, bool]:
        # One UpdateItem instead of GetItem + UpdateItem: on a failed condition DynamoDB returns the item
        # as it is (ReturnValuesOnConditionCheckFailure), which is the read the caller needed anyway.
        statuses = sorted(when.statuses)
        wanted = " AND ".join(
            [
                "#status IN (" + ", ".join(f":s{i}" for i in range(len(statuses))) + ")",
                "(attribute_not_exists(#ref) OR #ref = :ref)",
                "currencyCode = :currency",
                "amount = :amount",
            ]
        )
        slot = "attribute_not_exists(lastQueryAt) OR lastQueryAt <= :cutoff"
        if priority:
            slot += " OR lastQueryPriority = :no"
        values: dict[str, Any] = {
            ":now": at,
            ":cutoff": cutoff,
            ":priority": priority,
            ":ref": when.reference,
            ":currency": when.currency_code,
            ":amount": when.amount,
            **{f":s{i}": status for i, status in enumerate(statuses)},
            **({":no": False} if priority else {}),
        }
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                UpdateExpression="SET lastQueryAt = :now, lastQueryPriority = :priority",
                ConditionExpression=f"attribute_exists(partnerReference) AND {wanted} AND ({slot})",
                ExpressionAttributeNames={"#status": "status", "#ref": "reference"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            item: Any = exc.response.get("Item")
            return (record_from_item(from_item(item)) if item else None), False
        return record_from_item(from_item(response["Attributes"])), True

    def _write_with_receipt(
        self, change: StatusChange, update: dict[str, Any], reference: str | None
    ) -> PaymentRecord | None:
        """The transition and the webhook's outcome in ONE call (TransactWriteItems spans both tables).

        A transaction returns no item, so the record after is the one read with what the write changed:
        the condition held, so the status, reference and outbox are as written.
        """
        assert change.receipt is not None
        record = change.record
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": self._key(record.partner_reference),
                            **update,
                        }
                    },
                    {"Update": outcome_update(change.receipt)},
                ]
            )
        except ClientError as exc:
            if _lost_race(exc):
                return None
            raise
        pending = record.pending_event_ids
        if change.event is not None:
            pending = tuple(sorted({*pending, change.event.event_id}))
        return replace(
            record,
            status=change.status,
            updated_at=change.at,
            reference=reference,
            pending_event_ids=pending,
            status_queries=_with_query(record.status_queries, change.query),
        )


def _with_query(
    queries: tuple[Mapping[str, Any], ...] | None, note: StatusQueryNote | None
) -> tuple[Mapping[str, Any], ...] | None:
    """The status-query history after ``note`` was written (as ``payment_items`` reads it back: oldest first)."""
    if note is None:
        return queries
    gone = {*note.drop, note.key}
    kept = [] if note.create else [q for q in queries or () if str(q["at"]) not in gone]
    return tuple(sorted([*kept, dict(note.entry)], key=lambda q: str(q["at"])))


def _lost_race(exc: ClientError) -> bool:
    """A cancelled transaction whose payment condition failed, or that met a concurrent write: decide again."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code") for reason in exc.response.get("CancellationReasons", [])}
    return bool(reasons & {"ConditionalCheckFailed", "TransactionConflict"})
