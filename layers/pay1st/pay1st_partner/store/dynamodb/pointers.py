"""Pointer items in the payments table: a key such as ``refund#<ref>`` or ``attempt#<ref>`` naming the payment
that owns a reference, so the reference is found by key and is never handed to two payments."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner.store.codec import is_condition_failure, to_item


def claim_pointer(client: Any, table: str, key: str, owner_attribute: str, partner_reference: str) -> str:
    """Point ``key`` at ``partner_reference`` unless it already points elsewhere; the owner after the claim
    (``partner_reference`` also when the pointer vanished between the failed put and the read: claim again)."""
    try:
        client.put_item(
            TableName=table,
            Item=to_item({"partnerReference": key, owner_attribute: partner_reference}),
            ConditionExpression="attribute_not_exists(partnerReference)",
        )
        return partner_reference
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
    owner = pointer_owner(client, table, key, owner_attribute)
    return partner_reference if owner is None else owner


def pointer_owner(client: Any, table: str, key: str, owner_attribute: str) -> str | None:
    """The partnerReference ``key`` points at; None when there is no such pointer."""
    item = client.get_item(TableName=table, Key={"partnerReference": {"S": key}}, ConsistentRead=True).get(
        "Item"
    )
    return None if item is None or owner_attribute not in item else str(item[owner_attribute]["S"])
