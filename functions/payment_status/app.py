"""GET /payments/{partnerReference} (partner auth): the payment as we recorded it.

Read from DynamoDB; when the payment is open and its status older than STATUS_STALE_SECONDS it is first
refreshed from the gateway (§9). If the gateway cannot be reached the stored status is answered.
Reconciliation (and the repository behind it) is imported by the first request, not at cold start.
"""

from __future__ import annotations

from pay1st_partner import runtime
from pay1st_partner.api import Response, http_handler, make_resolver, response
from pay1st_partner.observability import logger
from pay1st_partner.references import require_partner_reference

app = make_resolver()


@app.get("/payments/<partnerReference>")
def payment_status(partnerReference: str) -> Response:
    require_partner_reference(partnerReference)
    from pay1st_partner.payments.status_route import current_payment
    from pay1st_partner.payments.views import payment_view

    logger.append_keys(partnerReference=partnerReference)
    record = current_payment(
        partnerReference,
        payments=runtime.payments(),
        reconciler=runtime.reconciler(),
        stale_after=runtime.settings().status_stale_seconds,
        deadline=runtime.deadline_for(app.lambda_context),
    )
    return response(200, payment_view(record))


lambda_handler = http_handler(app)
