"""Scheduled (EventBridge): re-publish stuck payment events, then check open payments with the gateway, and
count paid payments not fulfilled (PaidNotFulfilled)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pay1st_partner import runtime


def poll(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The poller is built here, not at cold start (cold-start budget: <= 1.2x ``import boto3``).
    return runtime.poller().run(deadline=runtime.deadline_for(context)).as_dict()


lambda_handler = runtime.lambda_entry_point(poll)
