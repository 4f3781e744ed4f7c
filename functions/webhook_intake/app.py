"""POST /webhooks/pay1st (public): verify, record durably, confirm and apply a Pay1st payment event.
POST /webhooks/pay1st/refunds (public): the same for a refund event, authenticated by the same authenticator.

2xx once the event is recorded and applied (also for duplicates, late events and payments that are not
ours); 401/413/400 for what must not or cannot be processed; 503 ``not_recorded`` when it could not be
stored and 503 ``not_applied`` when it was stored but processing failed, so the gateway delivers it again.

Only the bundle's HTTP resolver and Powertools' logger and metrics are imported at cold start: the intake,
reconciliation and the AWS adapters are imported by the first event (cold-start budget: <= 1.2x ``import boto3``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pay1st_partner import runtime
from pay1st_partner.api import Response, http_handler, make_resolver, raw_webhook_body, response

if TYPE_CHECKING:
    from pay1st_partner.webhooks.intake import WebhookIntake

app = make_resolver()


def _intake() -> WebhookIntake:
    from pay1st_partner.webhooks.intake import WebhookIntake

    return WebhookIntake(
        store=runtime.webhook_events(),
        payments=runtime.payments(),
        reconciler=runtime.reconciler(),
        authenticator=runtime.webhook_authenticator(),
    )


@app.post("/webhooks/pay1st")
def webhook() -> Response:
    from pay1st_partner.webhooks.results import MAX_WEBHOOK_BYTES

    result = _intake().handle(
        raw_webhook_body(app, MAX_WEBHOOK_BYTES),
        app.current_event.headers,
        deadline=runtime.deadline_for(app.lambda_context),
    )
    return response(200, result.body())


@app.post("/webhooks/pay1st/refunds")
def refund_webhook() -> Response:
    from pay1st_partner.webhooks.refund_intake import RefundWebhookIntake
    from pay1st_partner.webhooks.results import MAX_WEBHOOK_BYTES

    intake = RefundWebhookIntake(
        store=runtime.webhook_events(),
        refunds=runtime.refunds(),
        publisher=runtime.publisher(),
        authenticator=runtime.webhook_authenticator(),  # the payment route's: one place decides who may post
    )
    result = intake.handle(raw_webhook_body(app, MAX_WEBHOOK_BYTES), app.current_event.headers)
    return response(200, result.body())


lambda_handler = http_handler(app)
