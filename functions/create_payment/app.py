"""POST /payments (partner auth): create a payment at Pay1st, idempotent on partnerReference."""

from __future__ import annotations

from pay1st_partner import api, runtime

app = api.make_resolver()


@app.post("/payments")
def create() -> api.Response:
    # The use case and the gateway models behind it: the first request imports them, not the cold start.
    from pay1st_partner.payments.create import create_payment, parse_create_request

    command = parse_create_request(api.json_body(app))
    result = create_payment(
        command,
        base_url=api.request_base_url(app),
        repository=runtime.payments(),
        gateway=runtime.gateway(),
        callback_key=runtime.callback_key(),
        methods_cache=runtime.payment_methods_cache(),
        deadline=runtime.deadline_for(app.lambda_context),
    )
    return api.created_response(result)


lambda_handler = api.http_handler(app)
