"""Typed configuration, parsed once from the environment the template sets (Globals)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pay1st.errors import ConfigurationError

from pay1st_partner.check_schedule import (
    DEFAULT_GIVE_UP_AFTER,
    DEFAULT_OFFSETS_SECONDS,
    CheckSchedule,
    parse_offsets,
)

# One ConfigurationError for the whole layer (a required setting missing or malformed: a deployment fault,
# never the caller's); the gateway client's credentials loader raises the same one.
__all__ = ["ConfigurationError", "Settings"]


# Required everywhere: the template sets them in Globals, so every function sees the same settings.
_REQUIRED = (
    "PAYMENTS_TABLE",
    "WEBHOOK_EVENTS_TABLE",
    "LOCKS_TABLE",
    "CREDENTIALS_SECRET_NAME",
    "TOKEN_PARAMETER_NAME",
    "EVENT_BUS_NAME",
    "FULFILMENT_QUEUE_URL",
    "PAY1ST_API_BASE_URL",
    "PAY1ST_PAY_BASE_URL",
    "RESULT_PAGE_URL",
)
# How webhooks authenticate (contract §10). "any": whichever scheme has credentials in the secret;
# "required" is the old name of "signing-key", kept so existing deployments keep working.
SIGNATURE_MODES = ("any", "signing-key", "basic-auth", "off")
_MODE_ALIASES = {"required": "signing-key"}
_ENVIRONMENTS = ("sandbox", "production")
# What a refund's transactionReference names (§15): the payment's reference, or Pay1st's transaction id.
REFUND_REFERENCE_MODES = ("payment-reference", "transaction-id")


@dataclass(frozen=True)
class Settings:
    environment: str
    payments_table: str
    webhook_events_table: str
    locks_table: str
    credentials_secret_name: str
    token_parameter_name: str
    event_bus_name: str
    fulfilment_queue_url: str
    pay1st_api_base_url: str
    pay1st_pay_base_url: str
    result_page_url: str
    public_base_url: str | None = None
    webhook_signature_mode: str = "any"
    webhook_tolerance_seconds: float = 300.0
    # When set, an authenticated webhook naming another partner is refused (a Pay1st misrouting).
    partner_code: str | None = None
    partner_id: str | None = None
    # At most one §9 status query per payment per interval, whatever asks (webhooks, status route, poller).
    status_query_min_interval_seconds: float = 15.0
    status_stale_seconds: float = 30.0
    # At most one "Payment In Progress" per payment per interval (and one per step): payments/steps.
    step_event_min_interval_seconds: float = 30.0
    poll_batch_size: int = 25
    # The poller's gateway budget (status queries/s, the whole stack's), threads, and give-up age.
    status_queries_per_second: float = 5.0
    poll_concurrency: int = 8
    reconcile_give_up_seconds: float = DEFAULT_GIVE_UP_AFTER.total_seconds()
    # When an open payment is checked, in seconds after its creation (then every last offset).
    check_schedule_seconds: tuple[float, ...] = DEFAULT_OFFSETS_SECONDS
    payment_methods_cache_seconds: float = 300.0
    refund_open_alarm_seconds: float = 259200.0  # 3 days: refunds open longer are reported (no status query)
    paid_not_fulfilled_hours: float = 2.0  # paid this long, fulfilment not delivered: PaidNotFulfilled
    # The fulfilment sender's only: where a notice Pay1st can never accept goes at once (payments.fulfilment).
    fulfilment_dead_letter_queue_url: str | None = None
    refund_transaction_reference: str = "payment-reference"  # REFUND_REFERENCE_MODES

    @property
    def webhook_signature_required(self) -> bool:
        """False only in mode ``off`` (unsigned events accepted as hints)."""
        return self.webhook_signature_mode != "off"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; a missing required one fails loudly instead of defaulting silently."""
        env = os.environ if environ is None else environ
        missing = sorted(name for name in _REQUIRED if not env.get(name, "").strip())
        if missing:
            raise ConfigurationError(f"missing required environment variables: {', '.join(missing)}")

        def required(name: str) -> str:
            return env[name].strip()

        environment = env.get("ENVIRONMENT", "sandbox").strip() or "sandbox"
        if environment not in _ENVIRONMENTS:
            raise ConfigurationError(f"ENVIRONMENT must be one of {_ENVIRONMENTS}, got {environment!r}")
        mode = env.get("WEBHOOK_SIGNATURE_MODE", "").strip().lower() or "any"
        mode = _MODE_ALIASES.get(mode, mode)
        if mode not in SIGNATURE_MODES:
            raise ConfigurationError(
                f"WEBHOOK_SIGNATURE_MODE must be one of {SIGNATURE_MODES} (or 'required'), got {mode!r}"
            )
        refund_reference = env.get("REFUND_TRANSACTION_REFERENCE", "").strip() or "payment-reference"
        if refund_reference not in REFUND_REFERENCE_MODES:
            raise ConfigurationError(
                f"REFUND_TRANSACTION_REFERENCE must be one of {REFUND_REFERENCE_MODES}, got {refund_reference!r}"
            )
        partner_id = env.get("PAY1ST_PARTNER_ID", "").strip() or None
        if partner_id is not None and not partner_id.isdigit():
            raise ConfigurationError(f"PAY1ST_PARTNER_ID must be a number, got {partner_id!r}")

        return cls(
            environment=environment,
            payments_table=required("PAYMENTS_TABLE"),
            webhook_events_table=required("WEBHOOK_EVENTS_TABLE"),
            locks_table=required("LOCKS_TABLE"),
            credentials_secret_name=required("CREDENTIALS_SECRET_NAME"),
            token_parameter_name=required("TOKEN_PARAMETER_NAME"),
            event_bus_name=required("EVENT_BUS_NAME"),
            fulfilment_queue_url=required("FULFILMENT_QUEUE_URL"),
            pay1st_api_base_url=required("PAY1ST_API_BASE_URL").rstrip("/"),
            pay1st_pay_base_url=required("PAY1ST_PAY_BASE_URL").rstrip("/"),
            result_page_url=required("RESULT_PAGE_URL"),
            public_base_url=env.get("PUBLIC_BASE_URL", "").strip().rstrip("/") or None,
            webhook_signature_mode=mode,
            webhook_tolerance_seconds=_number(env, "WEBHOOK_TOLERANCE_SECONDS", 300.0),
            partner_code=env.get("PAY1ST_PARTNER_CODE", "").strip() or None,
            partner_id=partner_id,
            status_query_min_interval_seconds=_number(env, "STATUS_QUERY_MIN_INTERVAL_SECONDS", 15.0),
            status_stale_seconds=_number(env, "STATUS_STALE_SECONDS", 30.0),
            step_event_min_interval_seconds=_number(env, "STEP_EVENT_MIN_INTERVAL_SECONDS", 30.0),
            poll_batch_size=int(_number(env, "POLL_BATCH_SIZE", 25, integer=True)),
            status_queries_per_second=_number(env, "STATUS_QUERIES_PER_SECOND", 5.0),
            poll_concurrency=int(_number(env, "POLL_CONCURRENCY", 8, integer=True)),
            reconcile_give_up_seconds=_number(
                env, "RECONCILE_GIVE_UP_SECONDS", DEFAULT_GIVE_UP_AFTER.total_seconds()
            ),
            check_schedule_seconds=_schedule(env, "CHECK_SCHEDULE_SECONDS"),
            payment_methods_cache_seconds=_number(env, "PAYMENT_METHODS_CACHE_SECONDS", 300.0),
            refund_open_alarm_seconds=_number(env, "REFUND_OPEN_ALARM_SECONDS", 259200.0),
            paid_not_fulfilled_hours=_number(env, "PAID_NOT_FULFILLED_HOURS", 2.0),
            fulfilment_dead_letter_queue_url=env.get("FULFILMENT_DEAD_LETTER_QUEUE_URL", "").strip() or None,
            refund_transaction_reference=refund_reference,
        )

    def __post_init__(self) -> None:
        for url_field in ("pay1st_api_base_url", "pay1st_pay_base_url", "result_page_url"):
            value = getattr(self, url_field)
            if not value.startswith(("https://", "http://")):
                raise ConfigurationError(f"{url_field} must be an http(s) URL")
        if self.public_base_url is not None and not self.public_base_url.startswith(("https://", "http://")):
            raise ConfigurationError("public_base_url must be an http(s) URL")


def _schedule(env: Mapping[str, str], name: str) -> tuple[float, ...]:
    """Comma-separated seconds (or ``STEPxCOUNT``), positive and increasing (the default when unset)."""
    raw = env.get(name, "").strip()
    if not raw:
        return Settings.check_schedule_seconds
    try:
        offsets = parse_offsets(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be comma-separated seconds, got {raw!r}") from None
    try:
        return CheckSchedule(offsets).offsets_seconds  # the schedule's own rule: positive and increasing
    except ValueError:
        raise ConfigurationError(f"{name} must be positive and increasing, got {raw!r}") from None


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}")
    return value
