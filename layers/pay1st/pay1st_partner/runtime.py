"""Per-container service objects, built lazily on first use and cached.

Nothing here runs at import time, so tests set environment variables and moto first, call a handler,
and ``reset()`` between tests. Heavy imports (the gateway client, boto3 adapters, 4a's repository)
happen inside the factories, which keeps the cold import of functions that never need them short.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol

from pay1st_partner.observability import TokenRefreshMeter
from pay1st_partner.settings import Settings

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient

    from pay1st_partner.events import EventPublisher
    from pay1st_partner.methods import PaymentMethodsCache
    from pay1st_partner.repository import PaymentRepository
    from pay1st_partner.webhook_events import WebhookEventStore

# Seconds kept back from the Lambda's remaining time so we can still answer after a gateway deadline.
DEADLINE_SAFETY_SECONDS = 1.5


class _LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


@functools.cache
def boto3_client(service: str) -> Any:
    """One boto3 client per service per container (endpoint and region from the environment).

    botocore's defaults (legacy mode: 10 attempts, 60 s timeouts) would outlast the functions' 15 s timeout,
    ending a webhook as a bare Lambda timeout instead of our JSON 503 ``not_recorded``; these fail in time.
    """
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return boto3.client(service, config=config)  # type: ignore[call-overload]


@functools.cache
def gateway() -> Pay1stClient:
    """The Pay1st client with the shared SSM token cache and credentials from Secrets Manager."""
    from pay1st.aws import SsmTokenStore, load_credentials
    from pay1st.client import ClientConfig, Pay1stClient

    cfg = settings()
    return Pay1stClient(
        ClientConfig(base_url=cfg.pay1st_api_base_url, pay_url=cfg.pay1st_pay_base_url),
        load_credentials(cfg.credentials_secret_name),
        SsmTokenStore(
            cfg.token_parameter_name,
            cfg.locks_table,
            ssm=boto3_client("ssm"),
            dynamodb=boto3_client("dynamodb"),
        ),
    )


@functools.cache
def payments() -> PaymentRepository:
    from pay1st_partner.repository import PaymentRepository

    return PaymentRepository(settings().payments_table, client=boto3_client("dynamodb"))


@functools.cache
def publisher() -> EventPublisher:
    from pay1st_partner.events import EventPublisher

    return EventPublisher(settings().event_bus_name, client=boto3_client("events"))


@functools.cache
def webhook_events() -> WebhookEventStore:
    from pay1st_partner.webhook_events import WebhookEventStore

    return WebhookEventStore(settings().webhook_events_table, client=boto3_client("dynamodb"))


@functools.cache
def payment_methods_cache() -> PaymentMethodsCache:
    from pay1st_partner.methods import PaymentMethodsCache

    return PaymentMethodsCache(settings().payment_methods_cache_seconds)


@functools.cache
def _token_meter() -> TokenRefreshMeter:
    return TokenRefreshMeter()


def emit_token_metrics() -> None:
    """TokenRefreshes/TokensIssued for this invocation, if this container has a gateway client at all."""
    if gateway.cache_info().currsize:
        _token_meter().emit(gateway().tokens.counters)


def deadline_for(context: _LambdaContext, safety: float = DEADLINE_SAFETY_SECONDS) -> float:
    """An absolute monotonic deadline for gateway calls, leaving ``safety`` seconds to answer."""
    from pay1st.retry import deadline_after

    deadline: float = deadline_after(max(0.0, context.get_remaining_time_in_millis() / 1000 - safety))
    return deadline


_FACTORIES: tuple[Any, ...] = (
    settings,
    boto3_client,
    gateway,
    payments,
    publisher,
    webhook_events,
    payment_methods_cache,
    _token_meter,
)
_resetters: list[Any] = []


def on_reset(func: Any) -> Any:
    """Register a cached function of another module to be cleared by ``reset()`` (e.g. a TTL cache)."""
    _resetters.append(func)
    return func


def reset() -> None:
    """Forget every cached object and Powertools parameter cache (tests; never needed in Lambda)."""
    for factory in (*_FACTORIES, *_resetters):
        if hasattr(factory, "cache_clear"):
            factory.cache_clear()
        else:
            factory()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
