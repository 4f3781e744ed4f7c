"""GET /callbacks/{outcome}?partnerReference= (public): 302 to the result page with OUR recorded status.

Never changes state; never redirects anywhere but RESULT_PAGE_URL; an unknown payment (or one we cannot
read right now) still lands the customer on the result page, with an error code instead of a status.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from pay1st_partner import runtime
from pay1st_partner.api import http_handler, make_resolver
from pay1st_partner.callbacks import redirect_location

app = make_resolver()


@app.get("/callbacks/<outcome>")
def callback(outcome: str) -> Response[Any]:
    location = redirect_location(
        runtime.settings().result_page_url,
        outcome,
        app.current_event.get_query_string_value("partnerReference"),
        runtime.payments(),
    )
    return Response(
        status_code=302,
        headers={"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


lambda_handler = http_handler(app)
