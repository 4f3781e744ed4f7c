"""The layer's domain and adapters, wired to one stack's resources, as the functions wire them
(``pay1st_partner.runtime``), but with explicit clients: nothing read from this process's environment.

The gateway client is built only when a command needs it (reconcile, a replay that queries): it reads the
credentials secret (never printed) and shares the functions' token cache (the SSM parameter and lease), so
an operator's status query does not issue a token of its own when a valid one is cached.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from pay1st.aws import SsmTokenStore
from pay1st.aws.credentials import SECRET_KEYS
from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st.errors import ConfigurationError
from pay1st_partner.events import EventPublisher
from pay1st_partner.payments.reconcile import LazyStatusSource, Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.webhooks.event_store import WebhookEventStore

from pay1st_ops.target import OpsTarget

# The template's STATUS_QUERY_MIN_INTERVAL_SECONDS: an operator's query is rationed like everybody's.
DEFAULT_QUERY_INTERVAL = 15.0


def quiet_logs(stream: Any) -> None:
    """Send the layer's JSON logs to ``stream`` (stderr), never to the command's own output."""
    import logging

    from pay1st_partner.observability import logger

    for handler in logging.getLogger(logger.name).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def credentials_from(secret_string: str, where: str) -> Credentials:
    """The gateway credentials from the secret's JSON; errors name a key, never a value."""
    try:
        document = json.loads(secret_string)
    except ValueError:
        raise ConfigurationError(f"{where} is not JSON") from None
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"{where} is not a JSON object")
    fields: dict[str, str] = {}
    for key, attr in SECRET_KEYS.items():
        value = document.get(key)
        if not isinstance(value, str) or not value or value == "REPLACE_ME":
            raise ConfigurationError(f"{where} has no {key!r} (still the placeholder?)")
        fields[attr] = value
    return Credentials(**fields)


class Services:
    """Everything a command needs, built on first use."""

    def __init__(self, target: OpsTarget, *, query_interval: float = DEFAULT_QUERY_INTERVAL) -> None:
        self.target = target
        self._query_interval = query_interval

    @functools.cached_property
    def dynamodb(self) -> Any:
        return self.target.client("dynamodb")

    @functools.cached_property
    def store(self) -> DynamoDBPaymentStore:
        return DynamoDBPaymentStore(self.target.resource("PaymentsTable"), client=self.dynamodb)

    @functools.cached_property
    def payments(self) -> PaymentRepository:
        return PaymentRepository(self.store)

    @functools.cached_property
    def refunds(self) -> RefundRepository:
        return RefundRepository(self.store)

    @functools.cached_property
    def publisher(self) -> EventPublisher:
        return EventPublisher(self.target.resource("PaymentEventsBus"), client=self.target.client("events"))

    @functools.cached_property
    def webhook_events(self) -> WebhookEventStore:
        return WebhookEventStore(self.target.resource("WebhookEventsTable"), client=self.dynamodb)

    @functools.cached_property
    def reconciler(self) -> Reconciler:
        return Reconciler(
            self.payments,
            LazyStatusSource(self._gateway),
            self.publisher,
            reversals=self.refunds,
            min_query_interval=self._query_interval,
        )

    @functools.cache  # noqa: B019 - one Services per command run
    def _gateway(self) -> Pay1stClient:
        target = self.target
        secret = target.resource("Pay1stCredentialsSecret")
        text = target.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
        gateway_url = target.parameters.get("Pay1stApiBaseUrl", "").rstrip("/")
        if not gateway_url:
            raise ConfigurationError(f"{target.name} has no Pay1stApiBaseUrl parameter")
        tokens = SsmTokenStore(
            target.token_parameter_name,
            target.resource("LocksTable"),
            ssm=target.client("ssm"),
            dynamodb=self.dynamodb,
        )
        pay_url = target.parameters.get("Pay1stPayBaseUrl", gateway_url).rstrip("/")
        config = ClientConfig(base_url=gateway_url, pay_url=pay_url)
        return Pay1stClient(config, credentials_from(text, "the credentials secret"), tokens)
