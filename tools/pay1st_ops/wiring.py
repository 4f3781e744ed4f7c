"""The layer's domain and adapters, wired to one stack's resources, as the functions wire them
(``pay1st_partner.runtime``), but with explicit clients: nothing read from this process's environment.

The settings are the stack's own: its functions' environment (the poller's configuration for a deployed
stack, the local stack's published facts for a local one), so the check schedule and the query interval are
the stack's. The gateway client is built only when a command needs it (reconcile, a replay that queries): it
reads the credentials secret (never printed) and shares the functions' token cache (the SSM parameter and lease), so
an operator's status query does not issue a token of its own when a valid one is cached.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pay1st.aws import SsmTokenStore
from pay1st.aws.credentials import SECRET_KEYS
from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st.errors import ConfigurationError
from pay1st_partner.events import EventPublisher
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.settings import Settings
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.wiring import Services as WiredServices

from pay1st_ops.target import OpsTarget, TargetError


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
    """Everything a command needs, built on first use, through the functions' own wiring
    (``pay1st_partner.wiring``) with the settings the stack's functions run with."""

    def __init__(self, target: OpsTarget, *, query_interval: float | None = None) -> None:
        self.target = target
        self._query_interval = query_interval  # --query-interval: overrides the stack's own interval

    @functools.cached_property
    def settings(self) -> Settings:
        environment = dict(self.target.environment())
        if self._query_interval is not None:
            environment["STATUS_QUERY_MIN_INTERVAL_SECONDS"] = str(self._query_interval)
        return Settings.from_env(environment)

    @functools.cached_property
    def wired(self) -> WiredServices:
        return WiredServices(self.settings, client=self.target.client, gateway=self._gateway)

    @functools.cached_property
    def dynamodb(self) -> Any:
        return self.target.client("dynamodb")

    @property
    def store(self) -> DynamoDBPaymentStore:
        return self.wired.payments_store

    @property
    def payments(self) -> PaymentRepository:
        return self.wired.payments

    @property
    def refunds(self) -> RefundRepository:
        return self.wired.refunds

    @property
    def publisher(self) -> EventPublisher:
        return self.wired.publisher

    @property
    def webhook_events(self) -> WebhookEventStore:
        return self.wired.webhook_events

    @property
    def reconciler(self) -> Reconciler:
        return self.wired.reconciler

    @functools.cache  # noqa: B019 - one Services per command run
    def _gateway(self) -> Pay1stClient:
        settings, client = self.settings, self.target.client
        secret = settings.credentials_secret_name
        try:
            text = client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
        except (ClientError, BotoCoreError) as exc:
            raise TargetError(
                f"cannot read the credentials secret {secret} of {self.target.name}: {exc}"
            ) from None
        tokens = SsmTokenStore(
            settings.token_parameter_name, settings.locks_table, ssm=client("ssm"), dynamodb=self.dynamodb
        )
        config = ClientConfig(base_url=settings.pay1st_api_base_url, pay_url=settings.pay1st_pay_base_url)
        return Pay1stClient(config, credentials_from(text, "the credentials secret"), tokens)
