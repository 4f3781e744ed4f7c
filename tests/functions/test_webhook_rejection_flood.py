"""POST /webhooks/pay1st under a flood of unsigned requests: the real handler on moto, the deployed budget."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pay1st.signing import format_timestamp, sign
from pay1st_partner.clock import utcnow
from pay1st_partner.webhooks.rejections import budget_key

from tests.conftest import counting_aws_calls
from tests.functions.inbound import call

PATH = "/webhooks/pay1st"
ANONYMOUS_SHARE = 250  # of the 1,000 rejections kept an hour (webhooks.rejections)


def post(http_event: Callable[..., dict[str, Any]], body: bytes, headers: dict[str, str]) -> Any:
    from functions.webhook_intake import app

    return call(app.lambda_handler, http_event("POST", PATH, body=body, headers=headers))


def test_a_flood_of_unsigned_webhooks_neither_blinds_diagnosis_nor_costs_a_write(
    aws: Any, http_event: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a warm webhook function, and an hour whose anonymous share of kept rejections (250 of 1,000) a
    flood of unsigned requests has all but spent (other containers kept 249)
    When two more distinct unsigned requests arrive (the last one kept, then one found over the share), and
    ten more after them, then a webhook signed with a key that is not ours (Pay1st's other environment)
    Then the ten cost no AWS call and get the same 401 as the first; the misconfigured one is kept, with
    its diagnosis, for go-live to read."""
    aws.dynamodb.put_item(
        TableName="WebhookEventsTable",
        Item={
            "eventId": {"S": budget_key(utcnow())},
            "kept": {"N": str(ANONYMOUS_SHARE - 1)},
            "anonymous": {"N": str(ANONYMOUS_SHARE - 1)},
        },
    )
    for n in range(2):
        assert post(http_event, b'{"probe": %d}' % n, {}).status == 401
    with counting_aws_calls(monkeypatch) as calls:
        answers = [post(http_event, b'{"probe": "late-%d"}' % n, {}) for n in range(10)]
    assert calls == []
    assert {(a.status, json.dumps(a.body)) for a in answers} == {
        (
            401,
            json.dumps(
                {
                    "code": "missing_signature",
                    "message": "The webhook must carry an X-SIGNATURE header (and X-TIMESTAMP for signing-key).",
                }
            ),
        )
    }
    body = b'{"partnerReference": "order-go-live", "status": "SUCCESSFUL"}'
    timestamp = format_timestamp(datetime.now(UTC))
    headers = {"X-SIGNATURE": sign("sk_the_other_environment", timestamp, body), "X-TIMESTAMP": timestamp}
    assert post(http_event, body, headers).status == 401
    item = aws.dynamodb.get_item(
        TableName="WebhookEventsTable",
        Key={"eventId": {"S": "rejected#" + hashlib.sha256(body).hexdigest()}},
        ConsistentRead=True,
    ).get("Item")
    assert item is not None and item["reason"]["S"] == "invalid_signature"
    assert item["budgetShare"]["S"] == "misconfiguration"
