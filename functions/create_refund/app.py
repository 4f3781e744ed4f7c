"""POST /payments/{partnerReference}/refunds (partner auth): refund a paid payment, idempotent on refundReference.

The use case (and the gateway models behind it) is imported by the first request, not at cold start
(cold-start budget: <= 1.2x ``import boto3``).
"""

from __future__ import annotations

from pay1st_partner import runtime
from pay1st_partner.api import Response, http_handler, json_body, make_resolver, response
from pay1st_partner.observability import logger
from pay1st_partner.payments.callbacks import public_base_url
from pay1st_partner.references import require_partner_reference

app = make_resolver()


@app.post("/payments/<partnerReference>/refunds")
def create(partnerReference: str) -> Response:
    require_partner_reference(partnerReference)
    from pay1st_partner.refunds.create import create_refund, parse_refund_request

    logger.append_keys(partnerReference=partnerReference)
    command = parse_refund_request(json_body(app))
    result = create_refund(
        partnerReference,
        command,
        base_url=public_base_url(runtime.settings(), app.current_event.raw_event.get("requestContext") or {}),
        refunds=runtime.refunds(),
        gateway=runtime.gateway(),
        publisher=runtime.publisher(),
        deadline=runtime.deadline_for(app.lambda_context),
        reference_mode=runtime.settings().refund_transaction_reference,
    )
    # A repeat answers like the original (201, same refund), flagged as create payment does.
    headers = {} if result.created else {"Idempotent-Replayed": "true"}
    return response(201, result.to_body(), headers)


lambda_handler = http_handler(app)
