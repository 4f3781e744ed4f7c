"""The payments store's fulfilment writes on DynamoDB (``pay1st_partner.payments.fulfilment``), mixed into the
store: the fulfilment recorded once, on a payment that may be fulfilled, and its delivery to Pay1st; and the
watch list's writes for final payments (a SUCCESSFUL one is watched until its fulfilment is delivered, see
:mod:`pay1st_partner.store.items`)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner import state
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import is_condition_failure, to_item
from pay1st_partner.store.dynamodb.owed import NO_OWED
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.items import OPEN_MARKER, OWED_MARKER, sharded

_FINALS = {f":final{n}": status for n, status in enumerate(sorted(state.FINAL_STATUSES))}
_FINAL_VALUES = ", ".join(_FINALS)


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
        # Delivered: off the watch list in the same write, unless an event still waits there or a confirmation
        # is owed (the usual case: neither). Otherwise the poller takes it off once nothing waits.
        variants = [
            (
                expression + " REMOVE openMarker, nextCheckAt",
                "attribute_exists(fulfilment) AND (attribute_not_exists(outbox) OR size(outbox) = :zero) "
                f"AND {NO_OWED}",
                {":zero": 0},
            ),
            (expression, "attribute_exists(fulfilment)", {}),
        ]
        for update, condition, extra in variants:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(partner_reference),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=to_item({**values, **extra}),
                )
                return True
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
        return False

    def watch_until(self, partner_reference: str, next_check_at: str) -> bool:
        return (
            self._update(
                partner_reference,
                # Back under OPEN#n when it was OWED#n (its owed confirmations paid): nothing owed now.
                UpdateExpression="SET nextCheckAt = :next, openMarker = :shard",
                ConditionExpression=(
                    "(begins_with(openMarker, :open) OR begins_with(openMarker, :owed)) AND #status = :successful "
                    f"AND attribute_not_exists(fulfilment.deliveredAt) AND {NO_OWED}"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":next": next_check_at,
                        ":shard": sharded(OPEN_MARKER, partner_reference),
                        ":open": OPEN_MARKER,
                        ":owed": OWED_MARKER + "#",
                        ":successful": state.SUCCESSFUL,
                        ":zero": 0,
                    }
                ),
            )
            is not None
        )

    def unwatch(self, partner_reference: str, *, amount: Decimal) -> bool:
        return (
            self._update(
                partner_reference,
                UpdateExpression="REMOVE openMarker, nextCheckAt",
                ConditionExpression=(
                    "attribute_exists(openMarker) AND #status IN (" + _FINAL_VALUES + ") "
                    "AND (attribute_not_exists(outbox) OR size(outbox) = :zero) "
                    # Not SUCCESSFUL, or delivered, or never to be fulfilled (put_fulfilment's condition fails)
                    "AND (#status <> :successful OR attribute_exists(fulfilment.deliveredAt) "
                    "OR size(reversals) > :zero OR refundReserved >= :amount) "
                    f"AND {NO_OWED}"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":zero": 0, ":successful": state.SUCCESSFUL, ":amount": amount, **_FINALS}
                ),
            )
            is not None
        )
