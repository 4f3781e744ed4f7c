"""Our public URLs (callbacks, webhook) and the customer's redirect back to the partner's result page.

A callback is untrusted (contract §11): it never changes state by itself, and the only place it can send
the browser is the configured RESULT_PAGE_URL - whatever the query says, the target host never changes,
so there is no open redirect. The status in the redirect is the one WE recorded (after asking the gateway
once when it is still open), never the outcome named in the callback path.

Each callback URL we send Pay1st carries ``token`` = HMAC of its partnerReference under the callback key
(``result_page``). A callback without a valid token is answered from the token alone: the same
``error=invalid_callback`` for a real and an unknown reference, before any read or gateway call. Every
redirect's parameters are signed with an expiry (``result_page.sign_result_params``), so the result page
can tell ours from a URL the customer edited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pay1st_partner.observability import count, logger
from pay1st_partner.payments.result_page import (
    SIGNED_FIELDS,
    callback_token,
    sign_result_params,
    verify_callback_token,
)
from pay1st_partner.references import is_partner_reference
from pay1st_partner.settings import Settings

if TYPE_CHECKING:
    from pay1st_partner.payments.repository import PaymentRepository
    from pay1st_partner.records import PaymentRecord

OUTCOMES = ("success", "failure", "pending", "cancel")
WEBHOOK_PATH = "/webhooks/pay1st"
REFUND_WEBHOOK_PATH = "/webhooks/pay1st/refunds"

ERROR_INVALID_OUTCOME = "invalid_outcome"
ERROR_UNKNOWN_PAYMENT = "unknown_payment"
ERROR_STATUS_UNAVAILABLE = "status_unavailable"
ERROR_INVALID_CALLBACK = "invalid_callback"
# How long the result page may trust a redirect's signed parameters (it should ask its backend after that).
RESULT_PARAMS_TTL_SECONDS = 600


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


def callback_url(base_url: str, outcome: str, partner_reference: str, key: bytes) -> str:
    """``{base}/callbacks/{outcome}?partnerReference=...&token=...``: needs nothing from Pay1st, proves itself."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown callback outcome {outcome!r}")
    query = urlencode(
        {"partnerReference": partner_reference, "token": callback_token(key, partner_reference)}
    )
    return f"{base_url}/callbacks/{outcome}?{query}"


def callback_urls(base_url: str, partner_reference: str, key: bytes) -> dict[str, str]:
    return {outcome: callback_url(base_url, outcome, partner_reference, key) for outcome in OUTCOMES}


def webhook_url(base_url: str) -> str:
    return base_url + WEBHOOK_PATH


def refund_webhook_url(base_url: str) -> str:
    """Our refund webhook route: sent as ``refundWebhookUrl`` with every refund request (§15)."""
    return base_url + REFUND_WEBHOOK_PATH


def result_page_location(result_page_url: str, params: Mapping[str, str], drop: Collection[str] = ()) -> str:
    """RESULT_PAGE_URL with ``params`` set in its query (its own query parameters are kept, but for ``drop``).

    Only the query changes: scheme, host and path are always the configured page's.
    """
    parts = urlsplit(result_page_url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params and k not in drop
    ]
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


def signed_location(
    result_page_url: str, params: Mapping[str, str], key: bytes, *, now: float | None = None
) -> str:
    """RESULT_PAGE_URL with ``params`` signed, valid for ``RESULT_PARAMS_TTL_SECONDS``."""
    expires = int(time.time() if now is None else now) + RESULT_PARAMS_TTL_SECONDS
    # The page's own parameters named like signed ones would be mistaken for ours: they go.
    signed = sign_result_params(key, params, expires=expires)
    return result_page_location(result_page_url, signed, drop=(*SIGNED_FIELDS, "sig"))


def _token_valid(
    key: bytes, previous_keys: Callable[[], Sequence[bytes]] | None, partner_reference: str, token: str | None
) -> bool:
    if verify_callback_token(key, partner_reference, token):
        return True
    if not token or previous_keys is None:
        return False
    if any(verify_callback_token(old, partner_reference, token) for old in previous_keys()):
        count("CallbackTokenPreviousKey")  # callbacks still arriving under a rotated key
        return True
    return False


# Given the stored payment, the record to report (the callback asks the gateway once when it is open).
Refresh = Callable[["PaymentRecord"], "PaymentRecord"]


def redirect_location(
    result_page_url: str,
    outcome: str,
    partner_reference: str | None,
    token: str | None,
    *,
    key: bytes,
    repository: PaymentRepository,
    refresh: Refresh | None = None,
    previous_keys: Callable[[], Sequence[bytes]] | None = None,
) -> str:
    """Where the customer goes: always RESULT_PAGE_URL, with our status or an error code, signed.

    Nothing is read before the token is checked: a callback without a valid one tells nobody whether the
    reference exists, and costs neither a read nor a gateway call. ``previous_keys``: callback keys still
    accepted after a rotation (asked for only when ``key`` does not verify the token); redirects are
    always signed with ``key``.
    """
    if outcome not in OUTCOMES:
        return signed_location(result_page_url, redirect_params(outcome, None, None), key)
    if not is_partner_reference(partner_reference) or not _token_valid(
        key,
        previous_keys,
        partner_reference,  # type: ignore[arg-type]  # checked just before
        token,
    ):
        count("CallbackRejected")
        return signed_location(result_page_url, {"error": ERROR_INVALID_CALLBACK, "outcome": outcome}, key)
    try:
        record = repository.get(partner_reference)  # type: ignore[arg-type]  # checked just above
        if record is not None and refresh is not None and record.is_open:
            record = refresh(record)
    except Exception:  # noqa: BLE001 - deliberately broad, see below
        # The customer's browser is mid-checkout: whatever goes wrong reading the payment (AWS errors,
        # an item we cannot read, a bug), they must land on the result page, never on a 500 page.
        logger.exception("callback status lookup failed", extra={"partnerReference": partner_reference})
        params = {"error": ERROR_STATUS_UNAVAILABLE, "outcome": outcome}
    else:
        params = redirect_params(
            outcome, *((record.partner_reference, record.status) if record else (None, None))
        )
    return signed_location(result_page_url, params, key)
