"""POST /payments (partner auth): create a payment at Pay1st, idempotent on partnerReference.

The use case (and the gateway models behind it) is imported by the first request, not at cold start
(cold-start budget: <= 1.2x ``import boto3``).
"""

from __future__ import annotations

from pay1st_partner import runtime
from pay1st_partner.api import (
    Response,
    created_response,
    http_handler,
    json_body,
    make_resolver,
    request_base_url,
)

app = make_resolver()


@app.post("/payments")
def create() -> Response:
    from pay1st_partner.payments.create import create_payment, parse_create_request

    command = parse_create_request(json_body(app))
    result = create_payment(
        command,
        base_url=request_base_url(app),
        repository=runtime.payments(),
        gateway=runtime.gateway(),
        callback_key=runtime.callback_key(),
        methods_cache=runtime.payment_methods_cache(),
        deadline=runtime.deadline_for(app.lambda_context),
    )
    return created_response(result)


lambda_handler = http_handler(app)
