"""Our public URLs (callbacks, webhook) and the customer's redirect back to the partner's result page.

A callback is untrusted (contract §11): it never changes state, and the only place it can send the
browser is the configured RESULT_PAGE_URL - whatever the query says, the target host never changes,
so there is no open redirect. The status in the redirect is the one WE recorded, never the outcome
named in the callback path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pay1st_partner.observability import logger
from pay1st_partner.references import is_partner_reference
from pay1st_partner.settings import Settings

if TYPE_CHECKING:
    from pay1st_partner.repository import PaymentRepository

OUTCOMES = ("success", "failure", "pending", "cancel")
WEBHOOK_PATH = "/webhooks/pay1st"
REFUND_WEBHOOK_PATH = "/webhooks/pay1st/refunds"

ERROR_INVALID_OUTCOME = "invalid_outcome"
ERROR_UNKNOWN_PAYMENT = "unknown_payment"
ERROR_STATUS_UNAVAILABLE = "status_unavailable"


def public_base_url(settings: Settings, request_context: Mapping[str, Any]) -> str:
    """PUBLIC_BASE_URL when configured, else the HTTP API's own address from the request.

    The API's ``$default`` stage has no path segment; a named stage does.
    """
    if settings.public_base_url:
        return settings.public_base_url
    domain = str(request_context.get("domainName") or "")
    if not domain or any(c in domain for c in "/?#@ \\"):
        raise ValueError("the request has no usable domainName and PUBLIC_BASE_URL is not set")
    stage = str(request_context.get("stage") or "$default")
    base = f"https://{domain}"
    return base if stage == "$default" else f"{base}/{quote(stage, safe='')}"


def callback_url(base_url: str, outcome: str, partner_reference: str) -> str:
    """``{base}/callbacks/{outcome}?partnerReference=...``: the redirect handler needs nothing from Pay1st."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown callback outcome {outcome!r}")
    return f"{base_url}/callbacks/{outcome}?{urlencode({'partnerReference': partner_reference})}"


def callback_urls(base_url: str, partner_reference: str) -> dict[str, str]:
    return {outcome: callback_url(base_url, outcome, partner_reference) for outcome in OUTCOMES}


def webhook_url(base_url: str) -> str:
    return base_url + WEBHOOK_PATH


def refund_webhook_url(base_url: str) -> str:
    """Our refund webhook route: sent as ``refundWebhookUrl`` with every refund request (§15)."""
    return base_url + REFUND_WEBHOOK_PATH


def result_page_location(result_page_url: str, params: Mapping[str, str]) -> str:
    """RESULT_PAGE_URL with ``params`` set in its query (its own query parameters are kept).

    Only the query changes: scheme, host and path are always the configured page's.
    """
    parts = urlsplit(result_page_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def redirect_params(
    outcome: str, partner_reference: str | None, recorded_status: str | None
) -> dict[str, str]:
    """What the result page learns: our status for a known payment, or an error code."""
    if outcome not in OUTCOMES:
        return {"error": ERROR_INVALID_OUTCOME}
    if partner_reference is None or recorded_status is None:
        return {"error": ERROR_UNKNOWN_PAYMENT, "outcome": outcome}
    return {"partnerReference": partner_reference, "status": recorded_status, "outcome": outcome}


def redirect_location(
    result_page_url: str, outcome: str, partner_reference: str | None, repository: PaymentRepository
) -> str:
    """Where the customer goes: always RESULT_PAGE_URL, with our recorded status or an error code."""
    if outcome not in OUTCOMES or not is_partner_reference(partner_reference):
        return result_page_location(result_page_url, redirect_params(outcome, None, None))
    try:
        record = repository.get(partner_reference)  # type: ignore[arg-type]  # checked just above
    except Exception:  # noqa: BLE001 - deliberately broad, see below
        # The customer's browser is mid-checkout: whatever goes wrong reading the payment (AWS errors,
        # an item we cannot read, a bug), they must land on the result page, never on a 500 page.
        logger.exception("callback status lookup failed", extra={"partnerReference": partner_reference})
        params = {"error": ERROR_STATUS_UNAVAILABLE, "outcome": outcome}
    else:
        params = redirect_params(
            outcome, *((record.partner_reference, record.status) if record else (None, None))
        )
    return result_page_location(result_page_url, params)
