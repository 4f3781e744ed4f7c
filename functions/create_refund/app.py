"""POST /payments/{partnerReference}/refunds (partner auth): refund a paid payment, idempotent on refundReference."""

from __future__ import annotations

from pay1st_partner import api, runtime
from pay1st_partner.observability import logger
from pay1st_partner.references import require_partner_reference

app = api.make_resolver()


@app.post("/payments/<partnerReference>/refunds")
def create(partnerReference: str) -> api.Response:
    require_partner_reference(partnerReference)
    from pay1st_partner.refunds.create import create_refund, parse_refund_request  # not at cold start

    logger.append_keys(partnerReference=partnerReference)
    command = parse_refund_request(api.json_body(app))
    result = create_refund(
        partnerReference,
        command,
        base_url=api.request_base_url(app),
        refunds=runtime.refunds(),
        gateway=runtime.gateway(),
        publisher=runtime.publisher(),
        deadline=runtime.deadline_for(app.lambda_context),
        reference_mode=runtime.settings().refund_transaction_reference,
    )
    return api.created_response(result)


lambda_handler = api.http_handler(app)
