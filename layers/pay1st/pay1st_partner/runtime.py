"""Per-container service objects, built lazily on first use and cached, and the functions' entry point.

Nothing here runs at import time, so tests set environment variables and moto first, call a handler,
and ``reset()`` between tests. Heavy imports (the gateway client, boto3 adapters, the repository)
happen inside the factories, which keeps the cold import of functions that never need them short.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pay1st_partner.observability import TokenRefreshMeter, logger, metrics, tracer
from pay1st_partner.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pay1st.aws import SsmTokenStore
    from pay1st.client import Credentials, Pay1stClient
    from pay1st.webhook_credentials import WebhookCredentials

    from pay1st_partner.events import EventPublisher
    from pay1st_partner.payments.methods import PaymentMethodsCache
    from pay1st_partner.payments.reconcile import Reconciler
    from pay1st_partner.payments.repository import PaymentRepository
    from pay1st_partner.poller import StatusPoller
    from pay1st_partner.refunds.repository import RefundRepository
    from pay1st_partner.webhooks.auth import WebhookAuthenticator
    from pay1st_partner.webhooks.event_store import WebhookEventStore
    from pay1st_partner.webhooks.rejections import RejectionLog
    from pay1st_partner.wiring import Services

# Seconds kept back from the Lambda's remaining time so we can still answer after a gateway deadline.
DEADLINE_SAFETY_SECONDS = 1.5

_Event = TypeVar("_Event")
_Result = TypeVar("_Result")


class _LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


# The status poller checks payments from a thread pool, and the first checks build the gateway client and its
# boto3 clients; boto3's default session is not thread-safe. Whatever several threads may build goes through
# this lock (reentrant: building the gateway client builds boto3 clients). The gateway factory reads the
# credentials under it too (Powertools builds its Secrets Manager client on a first read): the other threads
# wait for that read once per cache window (300 s), a Secrets Manager call at most.
_building = threading.RLock()


def boto3_client(service: str) -> Any:
    """One boto3 client per service per container (endpoint and region from the environment)."""
    with _building:
        return _new_boto3_client(service)


@functools.cache
def _new_boto3_client(service: str) -> Any:
    """botocore's defaults (legacy mode: 10 attempts, 60 s timeouts) would outlast the functions' 15 s timeout,
    ending a webhook as a bare Lambda timeout instead of our JSON 503 ``not_recorded``; these fail in time."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return boto3.client(service, config=config)  # type: ignore[call-overload]


@functools.cache
def _token_store() -> SsmTokenStore:
    from pay1st.aws import SsmTokenStore

    cfg = settings()
    return SsmTokenStore(
        cfg.token_parameter_name, cfg.locks_table, ssm=boto3_client("ssm"), dynamodb=boto3_client("dynamodb")
    )


def credentials() -> Credentials:
    """The API key, API secret and Signing Key, through Powertools' cache (max_age 300 s, no call inside it)."""
    from pay1st.aws import load_credentials

    return load_credentials(settings().credentials_secret_name)


def webhook_credentials() -> WebhookCredentials:
    """The keys webhooks verify under (current and previous), from the same cached secret."""
    from pay1st.aws import load_webhook_credentials

    return load_webhook_credentials(settings().credentials_secret_name)


def callback_key() -> bytes:
    """The key of callback tokens and signed result-page parameters (``result_page``): the secret's
    ``callbackKey``, else derived from its Signing Key; from the same cached secret."""
    from pay1st.aws import load_callback_key_material
    from pay1st.errors import ConfigurationError

    from pay1st_partner.payments.result_page import callback_key as make_key

    try:
        return make_key(*load_callback_key_material(settings().credentials_secret_name))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def previous_callback_keys() -> tuple[bytes, ...]:
    """Callback keys of the secret's ``previous`` entries still before their ``acceptUntil``: tokens made
    before a rotation (of ``callbackKey``, or of the Signing Key it is derived from) stay valid until then.
    Only ever used to verify a token; redirects are always signed with :func:`callback_key`."""
    from datetime import UTC, datetime

    from pay1st.aws import load_previous_callback_key_material

    from pay1st_partner.payments.result_page import callback_key as make_key

    now = datetime.now(UTC)
    keys: list[bytes] = []
    for dedicated, signing_key, accept_until in load_previous_callback_key_material(
        settings().credentials_secret_name
    ):
        if now >= accept_until:
            continue
        if dedicated is not None:
            keys.append(dedicated.encode("utf-8"))
        if signing_key is not None:
            keys.append(make_key(None, signing_key))
    return tuple(keys)


class _GatewayFactory:
    """The Pay1st client, rebuilt when the credentials secret changes (rotation) and otherwise kept.

    Credentials are re-read on every call through :func:`credentials`, whose cache answers without a
    network call inside its window; only a changed value builds a new client, sharing the container's
    token store.
    """

    def __init__(self) -> None:
        self._client: Pay1stClient | None = None
        self._credentials: Credentials | None = None

    def __call__(self) -> Pay1stClient:
        with _building:
            return self._current()

    def _current(self) -> Pay1stClient:
        from pay1st.client import ClientConfig, Pay1stClient

        cfg = settings()
        current = credentials()
        if self._client is None or current != self._credentials:
            self._client = Pay1stClient(
                ClientConfig(base_url=cfg.pay1st_api_base_url, pay_url=cfg.pay1st_pay_base_url),
                current,
                _token_store(),
            )
            self._credentials = current
            _token_meter.cache_clear()  # a new client's token counters start again from zero
        return self._client

    def built(self) -> Pay1stClient | None:
        """The client if one was built in this container, without reading anything."""
        return self._client

    def cache_clear(self) -> None:
        self._client = self._credentials = None


gateway = _GatewayFactory()


@functools.cache
def services() -> Services:
    """This container's services (``wiring``), from the environment's settings and its boto3 clients."""
    from pay1st_partner.wiring import Services

    return Services(settings(), client=boto3_client, gateway=gateway)


def reconciler() -> Reconciler:
    """Reconciliation for payment_status, status_poller and webhook_intake; the client is built on first use."""
    return services().reconciler


def payments() -> PaymentRepository:
    return services().payments


def refunds() -> RefundRepository:
    return services().refunds


def publisher() -> EventPublisher:
    return services().publisher


def webhook_events() -> WebhookEventStore:
    return services().webhook_events


def poller() -> StatusPoller:
    return services().poller()


@functools.cache
def webhook_rejections() -> RejectionLog:
    from pay1st_partner.webhooks.rejections import RejectionLog

    return RejectionLog(settings().webhook_events_table, client=boto3_client("dynamodb"))


@functools.cache
def webhook_authenticator() -> WebhookAuthenticator:
    """The one authenticator of every public webhook route (mode, keys with rotation, partner identity)."""
    from pay1st_partner.webhooks.auth import WebhookAuthenticator

    cfg = settings()
    return WebhookAuthenticator(
        mode=cfg.webhook_signature_mode,
        credentials=webhook_credentials,  # cached by Powertools: no Secrets call per event
        partner_code=cfg.partner_code,
        partner_id=cfg.partner_id,
        rejections=webhook_rejections(),
        tolerance_seconds=cfg.webhook_tolerance_seconds,
    )


@functools.cache
def payment_methods_cache() -> PaymentMethodsCache:
    from pay1st_partner.payments.methods import PaymentMethodsCache

    return PaymentMethodsCache(settings().payment_methods_cache_seconds)


@functools.cache
def _token_meter() -> TokenRefreshMeter:
    return TokenRefreshMeter()


def emit_token_metrics() -> None:
    """TokenRefreshes/TokensIssued for this invocation, if this container has a gateway client at all."""
    client = gateway.built()
    if client is not None:
        _token_meter().emit(client.tokens.counters)


def lambda_entry_point(
    handler_fn: Callable[[_Event, LambdaContext], _Result], *, correlation_id_path: str | None = None
) -> Callable[[_Event, LambdaContext], _Result]:
    """What every function's invocation gets, in one place.

    A JSON log context (with the correlation id at ``correlation_id_path``, if any) cleared between
    invocations, a trace segment that never records the response (it may carry a checkout link), metrics
    flushed once, and the token metrics of the gateway client if this container has one.
    """

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def lambda_handler(event: _Event, context: LambdaContext) -> _Result:
        try:
            return handler_fn(event, context)
        finally:
            emit_token_metrics()

    entry_point: Callable[[_Event, LambdaContext], _Result] = lambda_handler  # the decorators are untyped
    return entry_point


def deadline_for(context: _LambdaContext, safety: float = DEADLINE_SAFETY_SECONDS) -> float:
    """An absolute monotonic deadline for gateway calls, leaving ``safety`` seconds to answer."""
    from pay1st.retry import deadline_after

    deadline: float = deadline_after(max(0.0, context.get_remaining_time_in_millis() / 1000 - safety))
    return deadline


_FACTORIES: tuple[Any, ...] = (
    settings,
    _new_boto3_client,
    _token_store,
    gateway,
    services,
    webhook_rejections,
    webhook_authenticator,
    payment_methods_cache,
    _token_meter,
)


def reset() -> None:
    """Forget every cached object and Powertools parameter cache (tests; never needed in Lambda)."""
    for factory in _FACTORIES:
        factory.cache_clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()  # type: ignore[no-untyped-call]
