"""GET /callbacks/{outcome}?partnerReference=&token= (public): 302 to the result page with OUR status, signed.

Without a valid token (HMAC of the partnerReference, made when the payment was created) the customer lands
on the result page with ``error=invalid_callback``: nothing is read and nobody learns whether the reference
exists. With one, a payment still open is first checked with the gateway once (a short deadline, and the
per-payment status-query ration, so a flood of callbacks costs at most one query per interval), and what the
gateway says is applied before the redirect. Never redirects anywhere but RESULT_PAGE_URL; an unknown payment
(or one we cannot read right now) still lands the customer on the result page, with an error code.
"""

from __future__ import annotations

from typing import Any

from pay1st_partner import runtime
from pay1st_partner.api import Response, http_handler, make_resolver
from pay1st_partner.observability import logger
from pay1st_partner.payments.callbacks import (
    ERROR_STATUS_UNAVAILABLE,
    redirect_location,
    result_page_location,
)

# The customer is waiting on a redirect: the gateway gets this long at most, then the recorded status is shown.
CALLBACK_QUERY_SECONDS = 3.0

app = make_resolver()


@app.get("/callbacks/<outcome>")
def callback(outcome: str) -> Response:
    result_page_url = runtime.settings().result_page_url
    try:
        key = runtime.callback_key()
    except Exception:  # noqa: BLE001 - the browser must land on the result page whatever happens
        logger.exception("callback key unavailable")
        location = result_page_location(
            result_page_url, {"error": ERROR_STATUS_UNAVAILABLE, "outcome": outcome}
        )
    else:
        location = redirect_location(
            result_page_url,
            outcome,
            app.current_event.get_query_string_value("partnerReference"),
            app.current_event.get_query_string_value("token"),
            key=key,
            repository=runtime.payments(),
            refresh=_refresh,
            previous_keys=_previous_keys,
        )
    return Response(
        status_code=302,
        headers={"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _previous_keys() -> tuple[bytes, ...]:
    """Keys of tokens made before a rotation, still accepted (the secret's ``previous``); none if unreadable."""
    try:
        return runtime.previous_callback_keys()
    except Exception:  # noqa: BLE001 - a bad previous entry must not turn a callback into a 500
        logger.exception("previous callback keys unavailable")
        return ()


def _refresh(record: Any) -> Any:
    """Ask the gateway once (rationed per payment, short deadline) and apply its answer."""
    from pay1st.retry import deadline_after
    from pay1st_partner.payments.callback_status import status_for_callback

    deadline = min(runtime.deadline_for(app.lambda_context), deadline_after(CALLBACK_QUERY_SECONDS))
    return status_for_callback(
        record,
        reconciler=runtime.reconciler(),
        payments=runtime.payments(),
        deadline=deadline,
        query_interval=runtime.settings().status_query_min_interval_seconds,
    )


lambda_handler = http_handler(app)
