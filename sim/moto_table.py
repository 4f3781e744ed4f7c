"""The webhook events table on moto, for a run with the DynamoDB store (``--store dynamodb``, the sampled
comparison with the in-memory store): the same boundaries and faults as :class:`sim.aws.WebhookTable`, in the
same order, so one seed makes the same choices against either store."""

from __future__ import annotations

from typing import Any

from sim.aws import Faults, throttled
from sim.scheduler import Scheduler


class MotoWebhookTable:
    def __init__(self, client: Any, sched: Scheduler, faults: Faults) -> None:
        self._client = client
        self._sched = sched
        self._faults = faults

    def update_item(self, **params: Any) -> dict[str, Any]:
        self._sched.boundary("webhooks.update_item")
        if self._faults.hit("dynamodb_throttle", self._faults.dynamodb_throttle):
            raise throttled("UpdateItem")
        answer: dict[str, Any] = self._client.update_item(**params)
        self._sched.boundary("webhooks.update_item:answer")
        return answer

    def get_item(self, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.get_item(**params)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
