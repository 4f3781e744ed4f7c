"""Scheduled (EventBridge): re-publish stuck payment events, then check open payments with the gateway."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pay1st_partner import runtime
from pay1st_partner.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from pay1st_partner.poller import StatusPoller


def _poller() -> StatusPoller:
    # Imported here, not at cold start (cold-start budget: <= 1.3x ``import boto3``).
    from pay1st_partner.poller import StatusPoller
    from pay1st_partner.reconcile import LazyStatusSource, Reconciler

    settings = runtime.settings()
    payments = runtime.payments()
    publisher = runtime.publisher()
    return StatusPoller(
        payments=payments,
        reconciler=Reconciler(payments, LazyStatusSource(runtime.gateway), publisher),
        publisher=publisher,
        min_age=timedelta(seconds=settings.poll_min_age_seconds),
        batch_size=settings.poll_batch_size,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return _poller().run(deadline=runtime.deadline_for(context)).as_dict()
    finally:
        runtime.emit_token_metrics()
