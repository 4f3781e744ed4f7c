"""Scheduled (EventBridge): re-publish stuck payment events, then check open payments with the gateway, and
count paid payments not fulfilled (PaidNotFulfilled)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pay1st_partner import runtime

if TYPE_CHECKING:
    from pay1st_partner.poller import StatusPoller


def _poller() -> StatusPoller:
    # Imported here, not at cold start (cold-start budget: <= 1.2x ``import boto3``).
    from pay1st_partner.poller import StatusPoller

    settings = runtime.settings()
    return StatusPoller(
        payments=runtime.payments(),
        reconciler=runtime.reconciler(),
        publisher=runtime.publisher(),
        batch_size=settings.poll_batch_size,
        refunds=runtime.refunds(),
        refund_max_age=timedelta(seconds=settings.refund_open_alarm_seconds),
        queries_per_second=settings.status_queries_per_second,
        concurrency=settings.poll_concurrency,
        give_up_after=timedelta(seconds=settings.reconcile_give_up_seconds),
        paid_not_fulfilled_after=timedelta(hours=settings.paid_not_fulfilled_hours),
    )


def poll(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _poller().run(deadline=runtime.deadline_for(context)).as_dict()


lambda_handler = runtime.lambda_entry_point(poll)
