"""The webhook's read of the payment, kept apart for size (mixed into
:class:`pay1st_partner.store.dynamodb.store.DynamoDBPaymentStore`): one UpdateItem that reads the payment and
takes its status-query slot, saving a call per webhook. (The transition that follows writes the webhook's
outcome after it, not in a TransactWriteItems: a transaction costs each of its writes twice.)
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import from_item, is_condition_failure, to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.items import record_from_item
from pay1st_partner.store.port import QueryWanted


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
