"""The payment item's key, its consistent read, the conditional update that returns the record after it
(None when the condition failed) and the reads of the table's sparse, sharded indexes, for every part of
the DynamoDB payments store.

The store is one class made of parts kept apart for size (status writes, refunds, attempts, fulfilment, webhook
receipts, operator access). Writes that need more (another return value, the old item on a failed
condition, a transaction) call ``update_item`` themselves, with ``_key``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import from_item, is_condition_failure
from pay1st_partner.store.items import record_from_item


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

    def _own_claim(
        self, partner_reference: str, path: tuple[str, ...], claim_id: str
    ) -> PaymentRecord | None:
        """After a failed claim: the record if the claim at ``path`` (attribute, map key...) carries
        ``claim_id``, i.e. this very write was applied before (a retry after a lost answer); else None."""
        data = self._read(partner_reference)
        found: Any = data
        for key in path:
            found = found.get(key) if isinstance(found, dict) else None
        if data is None or not isinstance(found, dict) or found.get("claimId") != claim_id:
            return None
        return record_from_item(data)

    def _sparse_index(
        self, index: str, marker: str, value: str, sort_key: str, below: str, limit: int, start: str = ""
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` items of a sparse GSI (``marker`` = ``value``) whose ``sort_key`` is below ``below``
        (and not below ``start``), oldest first."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{marker} = :marker AND {sort_key} < :below",
            "ExpressionAttributeValues": {":marker": {"S": value}, ":below": {"S": below}},
            "ScanIndexForward": True,
        }
        if start >= below:
            return []  # DynamoDB refuses a BETWEEN whose bounds are the wrong way round
        if start:  # a key condition takes one comparison per key: BETWEEN, then ``below`` itself left out
            query["KeyConditionExpression"] = f"{marker} = :marker AND {sort_key} BETWEEN :start AND :below"
            query["ExpressionAttributeValues"][":start"] = {"S": start}
        items: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**query, Limit=limit - len(items))
            items += [item for item in response.get("Items", []) if item[sort_key]["S"] != below]
            # DynamoDB may end a page at 1 MB, before the limit: read on, or a short page would look like the
            # end of the index (the status poller ends its run on one).
            if len(items) >= limit or "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _shards(
        self,
        index: str,
        marker: str,
        values: list[str],
        sort_key: str,
        below: str,
        limit: int,
        start: str = "",
    ) -> list[tuple[str, dict[str, Any]]]:
        """:meth:`_sparse_index` over every partition in ``values``, as (sort key, item) pairs."""
        return [
            (item[sort_key]["S"], item)
            for value in values
            for item in self._sparse_index(index, marker, value, sort_key, below, limit, start)
        ]

    @staticmethod
    def _merged(found: list[tuple[str, dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
        """The ``limit`` oldest of what :meth:`_shards` found, across its partitions."""
        found.sort(key=lambda pair: pair[0])
        return [item for _, item in found[:limit]]
