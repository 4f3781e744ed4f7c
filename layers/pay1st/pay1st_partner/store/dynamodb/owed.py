"""The payments store's owed confirmations on DynamoDB (``pay1st_partner.payments.owed``), mixed into the store.

An owed confirmation is an entry of the payment's ``owed`` map plus the payment's place on the ``watchList``
schedule (``openMarker``, ``nextCheckAt``): no index of its own (a table takes one GSI change per update).
``NO_OWED`` is the condition the other schedule writers (transitions, scheduled checks, give-up) add when
they read the payment with nothing owed, so none of them can drop an owed payment from the schedule.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import is_condition_failure, to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.items import OPEN_MARKER, OWED_MARKER, sharded
from pay1st_partner.store.port import OwedChange

# Needs ``:zero`` (the number 0) among the expression's values.
NO_OWED = "(attribute_not_exists(owed) OR size(owed) = :zero)"


def final_schedule(
    record: PaymentRecord, sets: list[str], removes: list[str], values: dict[str, Any]
) -> list[str]:
    """The clauses of a write that makes ``record`` final (its values hold ``:now``): it leaves the due
    schedule unless something is owed (then it stays due, under ``OWED#<n>``); the conditions to add."""
    if record.owed:
        values[":owedmark"] = sharded(OWED_MARKER, record.partner_reference)
        sets += ["openMarker = :owedmark", "nextCheckAt = if_not_exists(nextCheckAt, :now)"]
        return []
    removes += ["openMarker", "nextCheckAt"]
    values[":zero"] = 0
    return [NO_OWED]


class DynamoDBOwedWrites(PaymentItemAccess):
    def owe_confirmation(self, change: OwedChange) -> PaymentRecord | None:
        record = change.record
        names = {"#status": "status", "#ref": "reference"}
        values: dict[str, Any] = {
            ":current": record.status,
            ":due": change.due_at,
            ":marker": sharded(change.marker, record.partner_reference),
        }
        conditions = ["#status = :current"]
        if record.reference is None:
            conditions.append("attribute_not_exists(#ref)")
        else:
            values[":was_ref"] = record.reference
            conditions.append("#ref = :was_ref")
        if record.owed:
            names["#owedref"] = change.reference
            values[":entry"] = dict(change.entry)
            owed = "owed.#owedref = :entry"
            conditions.append("attribute_exists(owed)")
        else:  # the first entry writes the map (a nested SET needs its parent); read empty, still empty
            values.update({":owed": {change.reference: dict(change.entry)}, ":zero": 0})
            owed = "owed = :owed"
            conditions.append(NO_OWED)
        return self._update(
            record.partner_reference,
            UpdateExpression=f"SET {owed}, nextCheckAt = :due, openMarker = :marker",
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

    def settle_owed(self, partner_reference: str, reference: str, since: str) -> PaymentRecord | None:
        return self._update(
            partner_reference,
            UpdateExpression="REMOVE owed.#owedref",
            ConditionExpression="owed.#owedref.since = :since",
            ExpressionAttributeNames={"#owedref": reference},
            ExpressionAttributeValues=to_item({":since": since}),
        )

    def end_owed_schedule(self, partner_reference: str, *, next_check_at: str | None) -> None:
        values: dict[str, Any] = {":zero": 0, ":owed": OWED_MARKER + "#"}
        if next_check_at is None:
            update = "REMOVE openMarker, nextCheckAt"
            marker = "begins_with(openMarker, :owed)"
        else:  # open, or SUCCESSFUL and not delivered: on the watch list under OPEN#n
            values.update(
                {
                    ":prefix": OPEN_MARKER,
                    ":next": next_check_at,
                    ":open": sharded(OPEN_MARKER, partner_reference),
                }
            )
            update = "SET nextCheckAt = :next, openMarker = :open"
            marker = "(begins_with(openMarker, :prefix) OR begins_with(openMarker, :owed))"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                UpdateExpression=update,
                ConditionExpression=f"{marker} AND {NO_OWED}",
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
