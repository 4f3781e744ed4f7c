"""The one wiring of the bundle's services, from one :class:`Settings`.

The functions build theirs through :mod:`pay1st_partner.runtime` (settings from the environment the template
sets, boto3 clients from the Lambda's role); the operator tools (``tools/pay1st_ops``) through the same class,
with the settings a deployed stack's functions really run with and the operator's clients. So a default, a
schedule or a query interval is read in one place and means the same for both.

Each service is built on first use and kept; heavy imports happen inside, which keeps the cold import of a
function that never needs them short.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pay1st_partner.settings import Settings

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient

    from pay1st_partner.events import EventPublisher
    from pay1st_partner.payments.reconcile import Reconciler
    from pay1st_partner.payments.repository import PaymentRepository
    from pay1st_partner.poller import StatusPoller
    from pay1st_partner.refunds.repository import RefundRepository
    from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
    from pay1st_partner.webhooks.event_store import WebhookEventStore


class Services:
    """One stack's services: ``client(service)`` gives a boto3 client, ``gateway()`` the Pay1st client."""

    def __init__(
        self, settings: Settings, *, client: Callable[[str], Any], gateway: Callable[[], Pay1stClient]
    ) -> None:
        self.settings = settings
        self._client = client
        self._gateway = gateway

    @functools.cached_property
    def payments_store(self) -> DynamoDBPaymentStore:
        """The payments table's store, shared by payments, refunds and the PaidNotFulfilled gauge."""
        from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

        return DynamoDBPaymentStore(self.settings.payments_table, client=self._client("dynamodb"))

    @functools.cached_property
    def payments(self) -> PaymentRepository:
        from pay1st_partner.check_schedule import CheckSchedule
        from pay1st_partner.payments.repository import PaymentRepository

        schedule = CheckSchedule(self.settings.check_schedule_seconds)
        return PaymentRepository(
            self.payments_store,
            schedule=schedule,
            step_event_interval=self.settings.step_event_min_interval_seconds,
        )

    @functools.cached_property
    def refunds(self) -> RefundRepository:
        """Refunds and reversals, on the payments table (they are records on their payment)."""
        from pay1st_partner.refunds.repository import RefundRepository

        return RefundRepository(self.payments_store)

    @functools.cached_property
    def publisher(self) -> EventPublisher:
        from pay1st_partner.events import EventPublisher

        return EventPublisher(self.settings.event_bus_name, client=self._client("events"))

    @functools.cached_property
    def webhook_events(self) -> WebhookEventStore:
        from pay1st_partner.webhooks.event_store import WebhookEventStore

        return WebhookEventStore(self.settings.webhook_events_table, client=self._client("dynamodb"))

    @functools.cached_property
    def reconciler(self) -> Reconciler:
        """Reconciliation (webhooks, status route, poller, operators); the gateway client is built on first use."""
        from pay1st_partner.payments.reconcile import LazyStatusSource, Reconciler

        return Reconciler(
            self.payments,
            LazyStatusSource(self._gateway),
            self.publisher,
            reversals=self.refunds,
            min_query_interval=self.settings.status_query_min_interval_seconds,
        )

    def poller(self) -> StatusPoller:
        """The scheduled run's poller, with the stack's batch, budget, concurrency and give-up age."""
        from pay1st_partner.poller import StatusPoller

        settings = self.settings
        return StatusPoller(
            payments=self.payments,
            reconciler=self.reconciler,
            publisher=self.publisher,
            batch_size=settings.poll_batch_size,
            refunds=self.refunds,
            refund_max_age=timedelta(seconds=settings.refund_open_alarm_seconds),
            queries_per_second=settings.status_queries_per_second,
            concurrency=settings.poll_concurrency,
            give_up_after=timedelta(seconds=settings.reconcile_give_up_seconds),
            paid_not_fulfilled_after=timedelta(hours=settings.paid_not_fulfilled_hours),
        )
