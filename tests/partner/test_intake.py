"""Webhook intake: verify, record, confirm SUCCESSFUL with the gateway, apply once, acknowledge."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pay1st.errors import Pay1stConnectionError
from pay1st_partner.clock import isoformat
from pay1st_partner.errors import InvalidRequest, NotRecorded, PayloadTooLarge, WebhookRejected
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.webhooks.event_store import WebhookEventStore, event_id
from pay1st_partner.webhooks.intake import WebhookIntake

from tests.partner.helpers import (
    SIGNING_KEY,
    Clock,
    FakeGateway,
    payment_request,
    signed_headers,
    webhook_body,
)


def deliver(intake: WebhookIntake, clock: Clock, body: bytes) -> Any:
    return intake.handle(body, signed_headers(body, at=clock()))


# --------------------------------------------------------------------------- rejections before recording


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_signature"),
        ({"x-signature": "ab" * 32}, "missing_signature"),
        ({"x-signature": "ab" * 32, "x-timestamp": "2026-01-15T10:30:00.000Z"}, "invalid_signature"),
        ({"x-signature": "ab" * 32, "x-timestamp": "yesterday"}, "invalid_signature"),
    ],
)
def test_unsigned_or_badly_signed_webhooks_are_rejected_unrecorded(
    intake: WebhookIntake, store: WebhookEventStore, headers: dict[str, str], code: str
) -> None:
    body = webhook_body("SUCCESSFUL")
    with pytest.raises(WebhookRejected) as caught:
        intake.handle(body, headers)
    assert caught.value.code == code and caught.value.http_status == 401
    assert store.get(event_id(body)) is None


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_and_future_timestamps_are_rejected(intake: WebhookIntake, clock: Clock, offset: int) -> None:
    body = webhook_body("SUCCESSFUL")
    with pytest.raises(WebhookRejected) as caught:
        intake.handle(body, signed_headers(body, at=clock() + timedelta(seconds=offset)))
    assert caught.value.code == "stale_timestamp"


def test_a_signature_with_another_key_is_rejected(intake: WebhookIntake, clock: Clock) -> None:
    body = webhook_body("SUCCESSFUL")
    with pytest.raises(WebhookRejected) as caught:
        intake.handle(body, signed_headers(body, at=clock(), key="sk_someone_else"))
    assert caught.value.code == "invalid_signature"


def test_an_oversized_body_is_rejected_before_anything_else(intake: WebhookIntake) -> None:
    with pytest.raises(PayloadTooLarge):
        intake.handle(b"{" + b" " * 64 * 1024 + b"}", {})


def test_signature_mode_off_accepts_unsigned_but_still_checks_signed(
    store: WebhookEventStore, repo: PaymentRepository, reconciler: Reconciler, clock: Clock
) -> None:
    lenient = WebhookIntake(
        store=store,
        payments=repo,
        reconciler=reconciler,
        signing_key=lambda: SIGNING_KEY,
        signature_required=False,
        clock=clock,
    )
    body = webhook_body("PENDING", partner_reference="not-ours")
    assert lenient.handle(body, {}).outcome == "unmatched"
    assert store.get(event_id(body))["signatureVerified"] is False  # type: ignore[index]
    with pytest.raises(WebhookRejected):
        lenient.handle(body, {"x-signature": "00", "x-timestamp": "2026-01-15T10:30:00.000Z"})


def test_a_webhook_that_cannot_be_recorded_is_a_503(
    repo: PaymentRepository, reconciler: Reconciler, clock: Clock
) -> None:
    class Broken(WebhookEventStore):
        def record(self, raw_body: bytes, *, signature_verified: bool) -> Any:
            raise NotRecorded()

    broken = WebhookIntake(
        store=Broken("x", client=object()),
        payments=repo,
        reconciler=reconciler,
        signing_key=lambda: SIGNING_KEY,
        clock=clock,
    )
    with pytest.raises(NotRecorded):
        deliver(broken, clock, webhook_body("PENDING"))


# --------------------------------------------------------------------------- recorded but not applied


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'{"status": "SUCCESSFUL"}', "invalid_request"),
    ],
)
def test_malformed_events_are_recorded_then_rejected(
    intake: WebhookIntake, store: WebhookEventStore, clock: Clock, body: bytes, code: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        deliver(intake, clock, body)
    assert caught.value.code == code and caught.value.http_status == 400
    item = store.get(event_id(body))
    assert item is not None and item["outcome"] in ("invalid_json", "invalid_event")


@pytest.mark.parametrize("partner_reference", ["someone-else", "x" * 3000, "with space"])
def test_a_payment_that_is_not_ours_is_acknowledged(
    intake: WebhookIntake, store: WebhookEventStore, clock: Clock, partner_reference: str
) -> None:
    body = webhook_body("SUCCESSFUL", partner_reference=partner_reference)
    result = deliver(intake, clock, body)
    assert result.body() == {"received": True, "matched": False, "outcome": "unmatched"}
    assert store.get(event_id(body))["outcome"] == "unmatched"  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"amount": "1.00"}, "amount_mismatch"),
        ({"currency": "NGN"}, "amount_mismatch"),
        ({"reference": "C-other-P"}, "reference_mismatch"),
    ],
)
def test_events_not_matching_our_payment_change_nothing(
    intake: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    changes: dict[str, str],
    outcome: str,
) -> None:
    new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    result = deliver(intake, clock, webhook_body("SUCCESSFUL", **changes))
    assert result.outcome == outcome
    assert repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]
    assert gateway.queries == []


def test_unknown_statuses_are_recorded_never_paid(
    intake: WebhookIntake, repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, aws: Any
) -> None:
    new_payment()
    result = deliver(intake, clock, webhook_body("CHARGEBACK"))
    assert result.outcome == "unknown_status" and result.status == "NEW"
    record = repo.get("order-1001")
    assert record is not None and record.last_unknown_status == "CHARGEBACK"
    assert aws.published_events() == []


# --------------------------------------------------------------------------- applying


def test_successful_is_confirmed_with_the_gateway_before_it_counts(
    intake: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
    store: WebhookEventStore,
) -> None:
    # Given a NEW payment the gateway knows as SUCCESSFUL
    new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    body = webhook_body("SUCCESSFUL", customer={"email": "x@example.com"})
    # When the webhook arrives, twice
    first = deliver(intake, clock, body)
    second = deliver(intake, clock, body)
    # Then one status query confirmed it, one event went out, and the repeat was a no-op duplicate
    assert first.body() == {"received": True, "matched": True, "outcome": "applied", "status": "SUCCESSFUL"}
    assert second.duplicate and second.outcome == "duplicate"
    assert gateway.queries == ["C-order-1001-P"]
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Succeeded"]
    item = store.get(first.event_id)
    assert item is not None and item["outcome"] == "duplicate" and item["receivedCount"] == 2


def test_an_unconfirmed_successful_applies_what_the_gateway_says_instead(
    intake: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    new_payment()
    gateway.set("C-order-1001-P", "PENDING")
    result = deliver(intake, clock, webhook_body("SUCCESSFUL"))
    assert result.status == "PENDING"
    assert repo.get("order-1001").status == "PENDING"  # type: ignore[union-attr]


def test_an_unreachable_gateway_acknowledges_once_the_confirmation_is_owed(
    intake: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given the gateway cannot be reached, When a signed SUCCESSFUL comes, Then it is acknowledged only as
    an owed confirmation recorded on the payment (reference, report, since), which stays NEW meanwhile."""
    new_payment()
    gateway.error = Pay1stConnectionError("connection refused")
    result = deliver(intake, clock, webhook_body("SUCCESSFUL"))
    assert result.outcome == "confirmation_owed" and result.status == "NEW"
    record = repo.get("order-1001")
    assert record is not None and record.status == "NEW"
    assert record.owed == {
        "C-order-1001-P": {
            "attemptReference": "order-1001",
            "reported": "SUCCESSFUL",
            "since": isoformat(clock()),
        }
    }


def test_other_statuses_apply_without_a_query_and_late_ones_are_ignored(
    intake: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
) -> None:
    new_payment()
    assert deliver(intake, clock, webhook_body("PENDING")).outcome == "applied"
    assert deliver(intake, clock, webhook_body("CANCELLED")).outcome == "applied"
    assert deliver(intake, clock, webhook_body("PENDING", late=True)).outcome == "stale"
    conflict = deliver(intake, clock, webhook_body("FAILED"))
    assert conflict.outcome == "conflict" and conflict.status == "CANCELLED"
    assert gateway.queries == []
    assert [e["detail"]["eventId"] for e in aws.published_events()] == [
        "order-1001:PENDING",
        "order-1001:CANCELLED",
    ]
    assert [c["status"] for c in repo.get("order-1001").conflicts] == ["FAILED"]  # type: ignore[union-attr]


def test_a_payment_with_unknown_create_outcome_is_adopted_once_the_gateway_confirms(
    intake: WebhookIntake, repo: PaymentRepository, gateway: FakeGateway, clock: Clock
) -> None:
    # Given a create whose answer never arrived
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    # When a webhook names it, and the gateway agrees
    gateway.set("C-42-P", "NEW")
    result = deliver(intake, clock, webhook_body("NEW", reference="C-42-P"))
    # Then the payment is adopted with the gateway's reference and is open for the poller
    assert result.outcome == "applied" and result.status == "NEW"
    record = repo.get("order-1001")
    assert record is not None and record.reference == "C-42-P"
    assert [r.partner_reference for r in repo.open_payments(older_than=clock() + timedelta(1), limit=5)] == [
        "order-1001"
    ]


def test_adoption_needs_the_gateway_to_agree(
    intake: WebhookIntake, repo: PaymentRepository, gateway: FakeGateway, clock: Clock
) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    gateway.set("C-42-P", "PENDING", partner_reference="another-order")
    result = deliver(intake, clock, webhook_body("PENDING", reference="C-42-P"))
    assert result.outcome == "reference_mismatch" and not result.matched
    assert repo.get("order-1001").reference is None  # type: ignore[union-attr]


# --------------------------------------------------------------------------- unsigned events (mode off)


@pytest.fixture
def lenient(
    store: WebhookEventStore, repo: PaymentRepository, reconciler: Reconciler, clock: Clock
) -> WebhookIntake:
    """WEBHOOK_SIGNATURE_MODE=off: unsigned events are accepted."""
    return WebhookIntake(
        store=store,
        payments=repo,
        reconciler=reconciler,
        signing_key=lambda: SIGNING_KEY,
        signature_required=False,
        clock=clock,
    )


@pytest.mark.parametrize("reported", ["PENDING", "SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED", "REFUND"])
def test_an_unsigned_event_only_prompts_a_status_query_whose_answer_is_applied(
    lenient: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    aws: Any,
    reported: str,
) -> None:
    # Given a NEW payment the customer is still paying (PENDING at the gateway)
    new_payment()
    gateway.set("C-order-1001-P", "PENDING")
    # When an unsigned event reports any status
    result = lenient.handle(webhook_body(reported), {})
    # Then the gateway was asked once and its PENDING is what was applied, whatever the event said
    assert gateway.queries == ["C-order-1001-P"]
    assert result.outcome == "applied" and result.status == "PENDING"
    record = repo.get("order-1001")
    assert record is not None and record.status == "PENDING" and record.last_unknown_status is None
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Pending"]


def test_an_unsigned_event_for_a_payment_the_gateway_cannot_confirm_changes_nothing(
    lenient: WebhookIntake, repo: PaymentRepository, gateway: FakeGateway, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    gateway.error = Pay1stConnectionError("connection refused")
    result = lenient.handle(webhook_body("FAILED"), {})
    assert result.outcome == "gateway_unavailable" and result.status == "NEW"
    assert repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]


def test_a_signed_event_in_mode_off_keeps_the_signed_rule(
    lenient: WebhookIntake,
    repo: PaymentRepository,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    new_payment()
    result = deliver(lenient, clock, webhook_body("FAILED"))
    assert result.outcome == "applied" and result.status == "FAILED"
    assert gateway.queries == []


# --------------------------------------------------------------------------- recorded, processing failed


def test_a_processing_failure_after_recording_is_not_applied_and_recorded_as_such(
    intake: WebhookIntake,
    store: WebhookEventStore,
    repo: PaymentRepository,
    new_payment: Callable[..., Any],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.exceptions import ClientError
    from pay1st_partner.errors import NotApplied

    new_payment()

    def throttled(*_args: Any, **_kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")

    monkeypatch.setattr(repo, "apply_status", throttled)
    body = webhook_body("PENDING")
    with pytest.raises(NotApplied) as caught:
        deliver(intake, clock, body)
    assert caught.value.http_status == 503 and caught.value.code == "not_applied"
    assert store.get(event_id(body))["outcome"] == "not_applied"  # type: ignore[index]
    assert repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["partnerReference", "reference", "status", "partnerCode"])
def test_text_that_is_not_valid_unicode_is_an_invalid_event(
    intake: WebhookIntake, store: WebhookEventStore, new_payment: Callable[..., Any], clock: Clock, field: str
) -> None:
    new_payment()
    document = json.loads(webhook_body("PENDING"))
    document[field] = "x\udfff"  # written by json.dumps as the escape "x\\udfff": valid JSON
    body = json.dumps(document).encode()
    with pytest.raises(InvalidRequest) as caught:
        deliver(intake, clock, body)
    assert caught.value.http_status == 400 and field in caught.value.message
    item = store.get(event_id(body))
    assert item is not None and item["outcome"] == "invalid_event" and item["field"] == field
