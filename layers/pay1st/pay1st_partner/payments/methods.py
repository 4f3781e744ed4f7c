"""Payment methods (contract §6) for a country, cached briefly in the container.

The list changes rarely and every call costs a gateway round trip, so each container keeps it per
country for ``PAYMENT_METHODS_CACHE_SECONDS``. When the gateway is unreachable, a stale copy (up to
``STALE_IF_ERROR_SECONDS`` old) is better for a method picker than an error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pay1st.errors import (
    GatewayServerError,
    Pay1stConnectionError,
    Pay1stError,
    RateLimitError,
    UnexpectedResponseError,
    ValidationError,
)
from pay1st.iso import is_country_code

from pay1st_partner.errors import (
    GatewayRejected,
    GatewayUnavailable,
    InvalidRequest,
    PaymentMethodsUnavailable,
)
from pay1st_partner.observability import logger

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient
    from pay1st.models import PaymentMethods

STALE_IF_ERROR_SECONDS = 3600.0
MAX_COUNTRIES = 64
# How many active channel ids an invalid_channel message lists (the payment methods route has them all).
_LISTED_CHANNELS = 20


@dataclass(frozen=True)
class _Entry:
    body: dict[str, Any]
    fetched_at: float


class PaymentMethodsCache:
    """Per-country TTL cache of the response body; thread-safe, bounded."""

    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def fresh(self, country_code: str) -> dict[str, Any] | None:
        return self._get(country_code, self.ttl_seconds)

    def stale(self, country_code: str) -> dict[str, Any] | None:
        return self._get(country_code, STALE_IF_ERROR_SECONDS)

    def _get(self, country_code: str, max_age: float) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(country_code)
        if entry is None or self._clock() - entry.fetched_at >= max_age:
            return None
        return entry.body

    def put(self, country_code: str, body: dict[str, Any]) -> None:
        with self._lock:
            if country_code not in self._entries and len(self._entries) >= MAX_COUNTRIES:
                oldest = min(self._entries, key=lambda key: self._entries[key].fetched_at)
                del self._entries[oldest]
            self._entries[country_code] = _Entry(body, self._clock())


def parse_country_code(query: dict[str, str] | None) -> str:
    value = (query or {}).get("countryCode")
    if not value:
        raise ValidationError("countryCode", "is required (ISO-3166 alpha-2, e.g. NG, ZA)")
    value = value.strip().upper()
    if not is_country_code(value):
        raise ValidationError("countryCode", "must be an ISO-3166 alpha-2 country code (e.g. NG, ZA)")
    return value


def to_body(country_code: str, methods: PaymentMethods) -> dict[str, Any]:
    """The gateway's groups as they are, plus a flat list of channels (``id`` is the checkout channelId)."""
    return {
        "countryCode": country_code,
        "groups": [dict(group.raw) for group in methods.groups],
        "channels": [
            {
                "id": channel.id,
                "name": channel.name,
                "code": channel.code,
                "paymentMethodType": channel.payment_method_type,
                "status": channel.status,
                "active": channel.is_active,
            }
            for channel in methods.channels
        ],
    }


def list_payment_methods(
    country_code: str, *, gateway: Pay1stClient, cache: PaymentMethodsCache, deadline: float | None = None
) -> tuple[dict[str, Any], bool]:
    """The body for ``country_code`` and whether it came from the cache."""
    cached = cache.fresh(country_code)
    if cached is not None:
        return cached, True
    try:
        methods = gateway.list_payment_methods(country_code, deadline=deadline)
    except (Pay1stConnectionError, RateLimitError, GatewayServerError) as exc:
        stale = cache.stale(country_code)
        if stale is not None:
            logger.warning(
                "gateway unavailable; serving cached payment methods", extra={"country": country_code}
            )
            return stale, True
        raise GatewayUnavailable() from exc
    except UnexpectedResponseError as exc:
        # The gateway answered 2xx with a document we cannot read (the client's message names the field).
        logger.warning("unreadable payment methods list", extra={"country": country_code, "error": str(exc)})
        raise GatewayRejected("The Pay1st Gateway sent an unreadable payment methods list.") from exc
    except Pay1stError as exc:
        code = getattr(exc, "error_code", None)
        detail = f" (errorCode {code})" if code else ""
        raise GatewayRejected(f"The Pay1st Gateway refused the payment methods request{detail}.") from exc
    body = to_body(country_code, methods)
    cache.put(country_code, body)
    return body, False


def require_active_channel(
    country_code: str,
    channel_id: str,
    *,
    gateway: Pay1stClient,
    cache: PaymentMethodsCache,
    deadline: float | None = None,
) -> None:
    """``channelId`` must be an ACTIVE channel entry of ``country_code`` in the (cached) payment methods.

    400 ``invalid_channel`` names the active ones and how to list them; when the methods cannot be had at
    all (nothing cached, gateway failing), 502 ``payment_methods_unavailable`` says so: guessing either
    way would give the customer a checkout page that fails, or refuse a good order.
    """
    try:
        body, _cached = list_payment_methods(country_code, gateway=gateway, cache=cache, deadline=deadline)
    except (GatewayUnavailable, GatewayRejected) as exc:
        raise PaymentMethodsUnavailable(
            f"The payment methods for {country_code} could not be fetched from the Pay1st Gateway to check "
            "channelId; nothing was created. Repeat the request, or leave channelId out to let the customer "
            "choose on the checkout page."
        ) from exc
    channels = body["channels"]
    active = [str(channel["id"]) for channel in channels if channel["active"]]
    if channel_id in active:
        return
    known = any(str(channel["id"]) == channel_id for channel in channels)
    listed = ", ".join(active[:_LISTED_CHANNELS]) + (", …" if len(active) > _LISTED_CHANNELS else "")
    raise InvalidRequest(
        f"channelId: {channel_id!r} is {'not active' if known else 'not a payment channel'} for "
        f"{country_code}. Active channels: {listed or 'none'}. GET /payment-methods?countryCode="
        f"{country_code} lists them (use a channel's id); or leave channelId out to let the customer choose.",
        code="invalid_channel",
    )
