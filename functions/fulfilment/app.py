"""POST /payments/{partnerReference}/fulfilment (partner auth): record fulfilled products, queue the §12 notice.

The use case is imported by the first request, not at cold start (budget: <= 1.2x ``import boto3``).
"""

from __future__ import annotations

from pay1st_partner import runtime
from pay1st_partner.api import Response, http_handler, json_body, make_resolver, response
from pay1st_partner.references import require_partner_reference

app = make_resolver()


@app.post("/payments/<partnerReference>/fulfilment")
def fulfil(partnerReference: str) -> Response:
    require_partner_reference(partnerReference)
    from pay1st_partner.payments.fulfilment import parse_fulfilment_request, request_fulfilment

    items = parse_fulfilment_request(json_body(app))
    settings = runtime.settings()
    accepted = request_fulfilment(
        partnerReference,
        items,
        repository=runtime.payments(),
        sqs=runtime.boto3_client("sqs"),
        queue_url=settings.fulfilment_queue_url,
    )
    return response(202, accepted.to_body())


lambda_handler = http_handler(app)
