"""What operators read and write on the DynamoDB payments store (``pay1st_ops``), kept apart for size.

Mixed into :class:`pay1st_partner.store.dynamodb.store.DynamoDBPaymentStore`. Reads go through the key, or scan
by status (no index every write pays for). The audit trail is a bounded list on the payment item: appended with a
read and a write conditional on ``auditCount`` (entries ever written) being as read, so two operators at once never lose an entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import from_item, is_condition_failure, to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.items import record_from_item

_MAX_AUDIT_ATTEMPTS = 5


class DynamoDBOperatorAccess(PaymentItemAccess):
    def item(self, partner_reference: str) -> Mapping[str, Any] | None:
        return self._read(partner_reference)

    def by_status(
        self,
        status: str,
        *,
        created_after: str = "0",
        created_before: str = "~",
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Mapping[str, Any]]:
        # A scan: operators can wait for it, and no index (keyed on a status, every transition a delete and a
        # put) costs every payment's writes for it.
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#status = :status AND createdAt > :after AND createdAt < :before",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(
                {":status": status, ":after": created_after, ":before": created_before}
            ),
        }
        items: list[Mapping[str, Any]] = []
        while True:
            response = self._client.scan(**kwargs)
            items += [from_item(found) for found in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        items.sort(key=lambda item: str(item["createdAt"]), reverse=newest_first)
        return items[:limit]

    def find_by_reference(self, reference: str) -> PaymentRecord | None:
        # Operators only (pay1st_ops find --reference): a scan, not an index every payment's writes would pay for.
        query: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#ref = :ref",
            "ExpressionAttributeNames": {"#ref": "reference"},
            "ExpressionAttributeValues": {":ref": {"S": reference}},
            "ProjectionExpression": "partnerReference",
        }
        while True:
            response = self._client.scan(**query)
            for item in response.get("Items", []):
                data = self._read(item["partnerReference"]["S"])
                return record_from_item(data) if data else None
            if "LastEvaluatedKey" not in response:
                return None
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def add_audit(self, partner_reference: str, entry: Mapping[str, Any], *, keep: int) -> bool:
        key = self._key(partner_reference)
        for _ in range(_MAX_AUDIT_ATTEMPTS):
            found = self._client.get_item(
                TableName=self._table,
                Key=key,
                ConsistentRead=True,
                ProjectionExpression="partnerReference, audit, auditCount",
            ).get("Item")
            if not found:
                return False
            data = from_item(found)
            written = int(data.get("auditCount", 0))
            trail = [*data.get("audit", []), dict(entry)][-keep:]
            if written:
                condition = "auditCount = :written"
            else:
                condition = "attribute_exists(partnerReference) AND attribute_not_exists(auditCount)"
            values: dict[str, Any] = {":trail": trail, ":next": written + 1}
            if written:
                values[":written"] = written
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET audit = :trail, auditCount = :next",
                    ConditionExpression=condition,
                    ExpressionAttributeValues=to_item(values),
                )
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                continue  # another operator wrote in between: read again
            return True
        raise RuntimeError("could not add the audit entry after repeated races")
