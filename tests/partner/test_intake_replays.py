"""Replays and floods cost no gateway calls: the replay shortcut and the per-payment status-query ration.

Run with ``-s`` to see the counts (``pytest tests/partner/test_intake_replays.py -s -q``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pay1st.webhook_credentials import webhook_credentials_from
from pay1st.webhooks import basic_auth_signature
from pay1st_partner.errors import WebhookRejected
from pay1st_partner.events import EventPublisher
from pay1st_partner.payments.reconcile import QUERY_THROTTLED, Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.payments.status_route import current_payment
from pay1st_partner.webhooks.auth import WebhookAuthenticator
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.webhooks.intake import WebhookIntake
from pay1st_partner.webhooks.rejections import RejectionLog

from tests.partner.helpers import SIGNING_KEY, Clock, FakeGateway, signed_headers, webhook_body

INTERVAL = 15.0
USER, PASSWORD = "partner-webhooks", "s3cr3t-Pa55"


@pytest.fixture
def rationed(repo: PaymentRepository, gateway: FakeGateway, publisher: EventPublisher) -> Reconciler:
    return Reconciler(repo, gateway, publisher, min_query_interval=INTERVAL)


@pytest.fixture
def make_intake(
    store: WebhookEventStore, repo: PaymentRepository, rationed: Reconciler, clock: Clock, aws: Any
) -> Callable[..., WebhookIntake]:
    def build(mode: str = "any", **options: Any) -> WebhookIntake:
        credentials = webhook_credentials_from(
            {"signingKey": SIGNING_KEY, "webhookUsername": USER, "webhookPassword": PASSWORD}
        )
        authenticator = WebhookAuthenticator(
            mode=mode,
            credentials=lambda: credentials,
            clock=clock,
            rejections=RejectionLog("WebhookEventsTable", client=aws.dynamodb, clock=clock),
            **options,
        )
        return WebhookIntake(store=store, payments=repo, reconciler=rationed, authenticator=authenticator)

    return build


def test_50_replays_of_one_signed_webhook_cost_no_status_query_after_the_first(
    make_intake: Callable[..., WebhookIntake],
    new_payment: Callable[..., Any],
    gateway: FakeGateway,
    clock: Clock,
) -> None:
    # Given a payment still NEW at the gateway, and one captured, validly signed SUCCESSFUL webhook
    new_payment()
    gateway.set("C-order-1001-P", "NEW")
    intake = make_intake()
    body = webhook_body("SUCCESSFUL")
    headers = signed_headers(body, at=clock())
    # When it is delivered once and replayed 50 times within its 5-minute window (past the query interval)
    first = intake.handle(body, headers)
    after_first = len(gateway.queries)
    replies = []
    for _ in range(50):
        clock.advance(4)  # 200 s in all: the status-query interval alone would allow 13 more
        replies.append(intake.handle(body, headers))
    # Then the replays are answered 2xx from the record, without a single status query
    replayed = len(gateway.queries) - after_first
    print(
        f"\nsigned webhook: first delivery {after_first} status query, 50 replays {replayed} status queries"
    )
    assert first.outcome == "duplicate" and after_first == 1
    assert replayed == 0
    assert all(r.duplicate and r.outcome == "duplicate" and r.matched for r in replies)


def test_50_whitespace_variants_of_a_basic_auth_webhook_are_one_event(
    make_intake: Callable[..., WebhookIntake],
    new_payment: Callable[..., Any],
    gateway: FakeGateway,
    clock: Clock,
    store: WebhookEventStore,
) -> None:
    # Given a captured basic-auth webhook (no timestamp: replayable forever, and its signature ignores
    # the whitespace around the body)
    new_payment()
    gateway.set("C-order-1001-P", "NEW")
    intake = make_intake()
    body = webhook_body("SUCCESSFUL")
    signature = {"x-signature": basic_auth_signature(USER, PASSWORD, body)}
    intake.handle(body, signature)
    # When it is replayed 50 times with different whitespace around it, spread over 10 minutes
    for n in range(50):
        clock.advance(12)
        result = intake.handle(b" " * n + body + b"\n" * (n % 3), signature)
        assert result.duplicate
    # Then all of them are the same recorded event, and none cost a status query
    print(
        f"\nbasic-auth webhook: 1 delivery + 50 whitespace variants -> {len(gateway.queries)} status queries"
    )
    assert len(gateway.queries) == 1


def test_50_unsigned_events_in_mode_off_cost_at_most_one_query_per_interval(
    make_intake: Callable[..., WebhookIntake],
    new_payment: Callable[..., Any],
    gateway: FakeGateway,
    clock: Clock,
) -> None:
    # Given mode off, and a payment still NEW at the gateway
    new_payment()
    gateway.set("C-order-1001-P", "NEW")
    intake = make_intake("off")
    # When anyone posts 50 distinct unsigned events about it, one every second
    outcomes = []
    for n in range(50):
        status = ("SUCCESSFUL", "FAILED", "CANCELLED", "PENDING")[n % 4]
        outcomes.append(intake.handle(webhook_body(status, nonce=n), {}).outcome)
        clock.advance(1)
    # Then the gateway was asked at most once per interval (50 s: at most 4), never applied anything forged
    allowed = int(50 // INTERVAL) + 1
    print(
        f"\nunsigned events (mode off): 50 events over 50 s -> {len(gateway.queries)} status queries "
        f"(interval {INTERVAL:g} s, at most {allowed})"
    )
    assert 1 <= len(gateway.queries) <= allowed
    assert outcomes.count(QUERY_THROTTLED) == 50 - len(gateway.queries)


def test_an_authenticated_webhook_is_not_held_back_by_a_background_query(
    make_intake: Callable[..., WebhookIntake],
    new_payment: Callable[..., Any],
    gateway: FakeGateway,
    clock: Clock,
    repo: PaymentRepository,
    rationed: Reconciler,
) -> None:
    # Given the status route just refreshed a payment (a background query)
    new_payment()
    gateway.set("C-order-1001-P", "NEW")
    clock.advance(60)
    current_payment("order-1001", payments=repo, reconciler=rationed, stale_after=30, clock=clock)
    assert len(gateway.queries) == 1
    # When the customer pays and the signed SUCCESSFUL webhook arrives a second later
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    clock.advance(1)
    body = webhook_body("SUCCESSFUL")
    result = make_intake().handle(body, signed_headers(body, at=clock()))
    # Then its confirmation is made at once and applied
    assert result.outcome == "applied" and result.status == "SUCCESSFUL"
    # But another background query inside the interval is not
    clock.advance(40)
    refreshed = rationed.refresh(repo.get("order-1001"), source="poller")  # type: ignore[arg-type]
    assert refreshed.outcome != QUERY_THROTTLED  # a new interval
    assert rationed.refresh(repo.get("order-1001"), source="status").outcome == QUERY_THROTTLED  # type: ignore[arg-type]


def test_a_flood_of_forged_webhooks_costs_no_gateway_call(
    make_intake: Callable[..., WebhookIntake],
    new_payment: Callable[..., Any],
    gateway: FakeGateway,
    clock: Clock,
) -> None:
    new_payment()
    intake = make_intake()
    for n in range(100):
        body = webhook_body("SUCCESSFUL", nonce=n)
        forged = [{"x-signature": "ab" * 32}, signed_headers(body, at=clock(), key="guess"), {}][n % 3]
        with pytest.raises(WebhookRejected):
            intake.handle(body, forged)
    assert gateway.queries == []


def test_an_event_for_another_partner_is_recorded_not_applied_and_answered_2xx(
    make_intake: Callable[..., WebhookIntake],
    new_payment: Callable[..., Any],
    gateway: FakeGateway,
    clock: Clock,
    store: WebhookEventStore,
    repo: PaymentRepository,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given partner STUDIO/42, and a correctly signed event naming partner OTHER for one of our references
    new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    intake = make_intake(partner_code="STUDIO", partner_id="42")
    body = webhook_body("SUCCESSFUL", partnerCode="OTHER")
    # When it arrives (twice)
    result = intake.handle(body, signed_headers(body, at=clock()))
    again = intake.handle(body, signed_headers(body, at=clock()))
    # Then it is acknowledged (so Pay1st stops retrying), recorded as wrong_partner, alarmed, never applied
    assert result.body() == {"received": True, "matched": False, "outcome": "wrong_partner"}
    assert again.outcome == "wrong_partner" and again.duplicate
    stored = store.get(result.event_id)
    assert stored is not None and stored["outcome"] == "wrong_partner" and stored["partnerCode"] == "OTHER"
    assert gateway.queries == [] and repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]
    out = capsys.readouterr().out
    assert '"reason":"wrong_partner"' in out and '"WebhookRejected":[1.0]' in out
    assert any(r.levelname == "ERROR" and "another partner" in r.getMessage() for r in caplog.records)
