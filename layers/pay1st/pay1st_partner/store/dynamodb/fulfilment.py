"""The payments store's fulfilment writes on DynamoDB (``pay1st_partner.payments.fulfilment``), mixed into the
store: the fulfilment recorded once, on a payment that may be fulfilled, and its delivery to Pay1st."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner import state
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import is_condition_failure, to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess


class DynamoDBFulfilmentWrites(PaymentItemAccess):
    def put_fulfilment(
        self, partner_reference: str, fulfilment: Mapping[str, Any], *, amount: Decimal
    ) -> PaymentRecord | None:
        after = self._update(
            partner_reference,
            UpdateExpression="SET fulfilment = :fulfilment",
            # A reversed payment (refunded, charged back), or one our refunds cover, is never fulfilled.
            ConditionExpression=(
                "#status = :successful AND attribute_not_exists(fulfilment) "
                "AND (attribute_not_exists(reversals) OR size(reversals) = :zero) "
                "AND (attribute_not_exists(refundReserved) OR refundReserved < :amount)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":fulfilment": dict(fulfilment),
                    ":successful": state.SUCCESSFUL,
                    ":zero": 0,
                    ":amount": amount,
                }
            ),
        )
        if after is None and fulfilment.get("claimId"):  # this very claim, applied before?
            return self._own_claim(partner_reference, ("fulfilment",), fulfilment["claimId"])
        return after

    def mark_fulfilment_delivered(
        self, partner_reference: str, at: str, *, attempt: Mapping[str, Any] | None = None
    ) -> bool:
        expression = "SET fulfilment.deliveredAt = if_not_exists(fulfilment.deliveredAt, :now)"
        values: dict[str, Any] = {":now": at}
        if attempt is not None:
            expression += (
                ", fulfilment.attempts = list_append(if_not_exists(fulfilment.attempts, :none), :attempt)"
            )
            values.update({":none": [], ":attempt": [dict(attempt)]})
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(partner_reference),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(fulfilment)",
                ExpressionAttributeValues=to_item(values),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
