"""End to end on the local stack, default WebhookSignatureMode (any): the sandbox signs either way."""

from __future__ import annotations

import json

import pytest
from local_stack.stack import LocalStack

from tests.local.webhook_scheme_kit import (
    body_sha,
    create_payment,
    settle_and_deliver,
    status_of,
    webhook_item,
)


@pytest.fixture
def sandbox_signing(local_stack: LocalStack):  # type: ignore[no-untyped-def]
    assert local_stack.sandbox is not None
    control = local_stack.sandbox.control
    yield control
    control.set_webhook_signing("signing-key", hex_case="lower")


@pytest.mark.parametrize(
    ("scheme", "hex_case"), [("basic-auth", "lower"), ("basic-auth", "upper"), ("signing-key", "upper")]
)
def test_a_payment_settles_through_a_webhook_signed_either_way(
    local_stack: LocalStack, sandbox_signing: object, scheme: str, hex_case: str
) -> None:
    # Given mode any (the default) and the sandbox signing its webhooks with `scheme`
    local_stack.sandbox.control.set_webhook_signing(scheme, hex_case=hex_case)  # type: ignore[union-attr]
    created = create_payment(local_stack)
    # When the customer pays and the webhook arrives
    delivery = settle_and_deliver(local_stack, created["reference"])
    # Then it was accepted, confirmed and applied, and the record says which scheme verified it
    answer = delivery["attempts"][-1]
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["responseBody"])["outcome"] == "applied"
    assert status_of(local_stack, created["partnerReference"]) == "SUCCESSFUL"
    record = webhook_item(local_stack, body_sha(delivery))
    assert record is not None and record["signatureScheme"] == scheme and record["signatureVerified"] is True
