"""Fixtures of the payment-domain tests: a controllable clock and a repository on moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pay1st_partner.events import EventPublisher
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.webhooks.intake import WebhookIntake

from tests.partner.helpers import SIGNING_KEY, Clock, FakeGateway, created_payment, payment_request


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(aws: Any, clock: Clock) -> PaymentRepository:
    return PaymentRepository(DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb), clock=clock)


@pytest.fixture
def new_payment(repo: PaymentRepository) -> Callable[..., Any]:
    """Given a payment created at the gateway (status NEW, with its Pay1st reference)."""

    def make(
        partner_reference: str = "order-1001", reference: str | None = None, amount: str = "250.50"
    ) -> Any:
        request = payment_request(partner_reference, amount=amount)
        repo.claim(request, fingerprint(request), None)
        return repo.mark_created(
            partner_reference, created_payment(request, reference or f"C-{partner_reference}-P")
        )

    return make


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def publisher(aws: Any) -> EventPublisher:
    return EventPublisher("pay1st-events", client=aws.events)


@pytest.fixture
def store(aws: Any, clock: Clock) -> WebhookEventStore:
    return WebhookEventStore("WebhookEventsTable", client=aws.dynamodb, clock=clock)


@pytest.fixture
def reconciler(repo: PaymentRepository, gateway: FakeGateway, publisher: EventPublisher) -> Reconciler:
    return Reconciler(repo, gateway, publisher)


@pytest.fixture
def intake(
    store: WebhookEventStore, repo: PaymentRepository, reconciler: Reconciler, clock: Clock
) -> WebhookIntake:
    return WebhookIntake(
        store=store, payments=repo, reconciler=reconciler, signing_key=lambda: SIGNING_KEY, clock=clock
    )
