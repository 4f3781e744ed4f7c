"""Shared by the local stack's webhook-scheme tests: create a payment over HTTP, settle it at the sandbox."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import urllib3
from local_stack.stack import LocalStack

from tests.local.local_kit import partner_request

HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=30))


def create_payment(stack: LocalStack) -> dict[str, Any]:
    order = {
        "partnerReference": f"scheme-{uuid.uuid4().hex[:10]}",
        "amount": "250.50",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "products": [{"title": "500 Gems", "sku": "GEM-500", "price": "250.50", "quantity": 1}],
    }
    response = partner_request(HTTP, "POST", f"{stack.api_url}/payments", order)
    assert response.status == 201, response.data
    created: dict[str, Any] = json.loads(response.data)
    return created


def settle_and_deliver(stack: LocalStack, reference: str) -> dict[str, Any]:
    """Pay at the sandbox, wait for its webhook; the (last) delivery of this payment."""
    assert stack.sandbox is not None
    control = stack.sandbox.control
    control.settle(reference, "pay")
    control.flush_webhooks(timeout=20)
    deliveries = [d for d in control.webhook_deliveries() if d["reference"] == reference]
    assert deliveries
    return deliveries[-1]


def status_of(stack: LocalStack, partner_reference: str) -> str:
    response = partner_request(HTTP, "GET", f"{stack.api_url}/payments/{partner_reference}")
    assert response.status == 200, response.data
    return str(json.loads(response.data)["status"])


def webhook_item(stack: LocalStack, key: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import TypeDeserializer

    table = stack.provisioned.refs["WebhookEventsTable"]
    item = stack.client("dynamodb").get_item(
        TableName=table, Key={"eventId": {"S": key}}, ConsistentRead=True
    )
    found = item.get("Item")
    if found is None:
        return None
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in found.items()}


def body_sha(delivery: dict[str, Any]) -> str:
    return hashlib.sha256(delivery["body"].encode("utf-8")).hexdigest()
