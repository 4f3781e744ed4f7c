"""The payments store's transaction id write on DynamoDB (``transactionId``, contract §15), mixed into the store.

One conditional update, made only when the id is new to the payment (the condition keeps a repeat free of a
second write's effect); the latest id Pay1st sent wins.
"""

from __future__ import annotations

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess


class DynamoDBTransactionWrites(PaymentItemAccess):
    def note_transaction_id(self, partner_reference: str, transaction_id: str) -> PaymentRecord | None:
        return self._update(
            partner_reference,
            UpdateExpression="SET transactionId = :tid",
            ConditionExpression="attribute_exists(partnerReference) AND "
            "(attribute_not_exists(transactionId) OR transactionId <> :tid)",
            ExpressionAttributeValues={":tid": {"S": transaction_id}},
        )
