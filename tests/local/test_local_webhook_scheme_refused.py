"""End to end on a local stack deployed with WebhookSignatureMode=signing-key: basic-auth webhooks refused,
and the kept rejection tells the operator why and which mode would accept them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from local_stack.stack import LocalStack

from tests.local.local_kit import running_stack
from tests.local.webhook_scheme_kit import (
    body_sha,
    create_payment,
    settle_and_deliver,
    status_of,
    webhook_item,
)


@pytest.fixture(scope="module")
def signing_key_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    overrides = {"WebhookSignatureMode": "signing-key"}
    with running_stack(tmp_path_factory, "local-stack", parameter_overrides=overrides) as stack:
        yield stack


def test_a_basic_auth_webhook_is_refused_and_the_rejection_kept_with_its_diagnosis(
    signing_key_stack: LocalStack,
) -> None:
    stack = signing_key_stack
    assert stack.sandbox is not None
    # Given a stack that accepts signing-key webhooks only, and a gateway signing with basic-auth
    stack.sandbox.control.set_webhook_signing("basic-auth")
    created = create_payment(stack)
    # When the customer pays
    delivery = settle_and_deliver(stack, created["reference"])
    # Then every attempt was refused with 401, and the payment is not settled by the webhook
    assert {a["statusCode"] for a in delivery["attempts"]} == {401}
    assert json.loads(delivery["attempts"][-1]["responseBody"])["code"] == "missing_signature"
    assert status_of(stack, created["partnerReference"]) == "NEW"  # fresh: no status refresh yet
    # And the kept rejection says what came and what would accept it, naming headers, never values
    kept = webhook_item(stack, "rejected#" + body_sha(delivery))
    assert kept is not None
    assert kept["reason"] == "missing_signature" and kept["signatureMode"] == "signing-key"
    assert kept["diagnosis"].startswith("X-SIGNATURE without X-TIMESTAMP; signing-key refused it")
    assert kept["wouldAcceptWith"] == ["basic-auth", "any"]
    assert "X-SIGNATURE" in kept["headerNames"] and "X-TIMESTAMP" not in kept["headerNames"]
    # (one write per container and hour: a retry of the same body to a warm container costs no write)
    assert 1 <= kept["rejectedCount"] <= len(delivery["attempts"])
    assert "body" not in kept
