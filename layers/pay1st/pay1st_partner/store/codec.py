"""DynamoDB's typed attribute values to and from plain Python, and its conditional-failure code.

Shared by the two DynamoDB adapters (payments and webhook events); boto3's own serializers, used with
the low-level client because the resource API is slower to import and to call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from pay1st_partner.store.port import WebhookReceipt

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def outcome_update(receipt: WebhookReceipt) -> dict[str, Any]:
    """The UpdateItem parameters recording ``receipt`` (also a TransactWriteItems ``Update`` entry)."""
    values: dict[str, Any] = {":outcome": {"S": receipt.outcome}, ":now": {"S": receipt.at}}
    sets = ["outcome = :outcome", "processedAt = :now"]
    names: dict[str, str] = {}
    for index, (name, value) in enumerate(sorted(receipt.details.items())):
        names[f"#d{index}"] = name
        values[f":d{index}"] = {"S": value}
        sets.append(f"#d{index} = :d{index}")
    update: dict[str, Any] = {
        "TableName": receipt.table,
        "Key": {"eventId": {"S": receipt.event_id}},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return update
