"""GET /payment-methods?countryCode= (partner auth): the gateway's payment channels, cached briefly.

The use case is imported by the first request, not at cold start (budget: <= 1.2x ``import boto3``).
"""

from __future__ import annotations

from pay1st_partner import runtime
from pay1st_partner.api import Response, http_handler, make_resolver, response

app = make_resolver()


@app.get("/payment-methods")
def payment_methods() -> Response:
    from pay1st_partner.payments.methods import list_payment_methods, parse_country_code

    country_code = parse_country_code(app.current_event.query_string_parameters)
    body, cached = list_payment_methods(
        country_code,
        gateway=runtime.gateway(),
        cache=runtime.payment_methods_cache(),
        deadline=runtime.deadline_for(app.lambda_context),
    )
    return response(200, body, {"X-Cache": "hit" if cached else "miss"})


lambda_handler = http_handler(app)
