"""The payments store's step writes on DynamoDB (``pay1st_partner.payments.steps``), mixed into the store.

One conditional update per step recorded: ``step`` replaced whole, and, when the step is told, its event in
the outbox with ``stepsTold.<step>`` and ``stepToldAt``. ``updatedAt`` is left alone: a step is not a status
change, and the open payment's schedule (``nextCheckAt``) goes on as it was.
"""

from __future__ import annotations

from typing import Any

from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.dynamodb.refunds import outbox_sets
from pay1st_partner.store.port import StepChange


class DynamoDBStepWrites(PaymentItemAccess):
    def write_step(self, change: StepChange) -> PaymentRecord | None:
        record = change.record
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":current": record.status,
            ":step": {
                "status": change.step,
                "at": change.at,
                "during": record.status,
                "source": change.source,
            },
        }
        sets = ["step = :step"]
        conditions = ["#status = :current"]
        if change.event is not None:
            values[":now"] = change.at  # outbox_sets' too
            if record.steps_told:
                names["#told"] = change.step
                sets.append("stepsTold.#told = :now")
            else:  # the first tell creates the map whole (a nested SET needs it to exist)
                values[":told"] = {change.step: change.at}
                sets.append("stepsTold = :told")
            sets.append("stepToldAt = :now")
            # Nobody told since our read (stepToldAt is the newest of stepsTold), so the stored map is ours too.
            if change.told_at is None:
                conditions.append("attribute_not_exists(stepToldAt)")
            else:
                values[":was_told"] = change.told_at
                conditions.append("stepToldAt = :was_told")
            sets += outbox_sets((change.event,), names, values)
        return self._update(
            record.partner_reference,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
