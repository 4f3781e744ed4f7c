"""The payment item's key, its consistent read and the conditional update that returns the record after it
(None when the condition failed), for every part of the DynamoDB payments store.

The store is one class made of parts kept apart for size (status writes, refunds, attempts, webhook
receipts, operator access). Writes that need more (another return value, the old item on a failed
condition, a transaction) call ``update_item`` themselves, with ``_key``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.dynamodb_codec import from_item, is_condition_failure
from pay1st_partner.payment_items import record_from_item
from pay1st_partner.records import PaymentRecord


class PaymentItemAccess:
    _table: str
    _client: Any

    def _key(self, partner_reference: str) -> dict[str, Any]:
        return {"partnerReference": {"S": partner_reference}}

    def _read(self, partner_reference: str) -> dict[str, Any] | None:
        """The item as plain values (a consistent read), or None."""
        response = self._client.get_item(
            TableName=self._table, Key=self._key(partner_reference), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def _update(self, partner_reference: str, **kwargs: Any) -> PaymentRecord | None:
        """A conditional update returning the record after it; None when the condition failed."""
        try:
            response = self._client.update_item(
                TableName=self._table, Key=self._key(partner_reference), ReturnValues="ALL_NEW", **kwargs
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return record_from_item(from_item(response["Attributes"]))
