"""The payments store's attempt writes on DynamoDB (``pay1st_partner.payments.attempts``), mixed into the store.

A derived attempt reference has a pointer item (``attempt#<reference>`` → ``attemptOf``), claimed with a
conditional put exactly as refund references are; the payment's attempt fields change in one conditional
update holding while its status, ``attemptReference`` and ``reference`` are as read.
"""

from __future__ import annotations

from typing import Any

from pay1st_partner import state
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import to_item
from pay1st_partner.store.dynamodb.owed import final_schedule
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.dynamodb.pointers import claim_pointer, pointer_owner
from pay1st_partner.store.dynamodb.refunds import outbox_sets
from pay1st_partner.store.items import attempt_pointer_key, history_entry, record_from_item
from pay1st_partner.store.port import AttemptChange


class DynamoDBAttemptWrites(PaymentItemAccess):
    def claim_attempt_reference(self, attempt_reference: str, partner_reference: str) -> str:
        key = attempt_pointer_key(attempt_reference)
        return claim_pointer(self._client, self._table, key, "attemptOf", partner_reference)

    def attempt_owner(self, attempt_reference: str) -> str | None:
        return pointer_owner(self._client, self._table, attempt_pointer_key(attempt_reference), "attemptOf")

    def write_attempts(self, change: AttemptChange) -> PaymentRecord | None:
        record, now = change.record, change.at
        names = {"#status": "status", "#ref": "reference"}
        values: dict[str, Any] = {
            ":current": record.status,
            ":attempts": [dict(entry) for entry in change.attempts],
            ":attempt": change.attempt_reference,
            ":now": now,
        }
        sets = ["attempts = :attempts", "attemptReference = :attempt", "updatedAt = :now"]
        conditions = ["#status = :current"]
        if record.attempt_reference is None:
            conditions.append("attribute_not_exists(attemptReference)")
        else:
            values[":was_attempt"] = record.attempt_reference
            conditions.append("attemptReference = :was_attempt")
        if record.reference is None:
            conditions.append("attribute_not_exists(#ref)")
        else:
            values[":was_ref"] = record.reference
            conditions.append("#ref = :was_ref")
        conditions += _attempts_as_read(record, values)
        removes: list[str] = []
        if change.status is not None:
            values.update(
                {
                    ":status": change.status,
                    ":empty": [],
                    ":hist": [history_entry(change.status, now, change.source)],
                }
            )
            sets += [
                "#status = :status",
                "statusHistory = list_append(if_not_exists(statusHistory, :empty), :hist)",
            ]
            if state.is_final(change.status):
                conditions += final_schedule(record, sets, removes, values)
        if change.reference is not None:
            values[":ref"] = change.reference
            sets.append("#ref = :ref")
        if change.double_paid:
            values[":true"] = True
            sets.append("doublePaid = :true")
        if change.exhausted:
            sets.append("attemptsExhaustedAt = :now")
        sets += outbox_sets(() if change.event is None else (change.event,), names, values)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        after = self._update(
            record.partner_reference,
            UpdateExpression=expression,
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
        if after is None and change.claim_id is not None:  # this very write, applied before?
            return self._own_attempt(record.partner_reference, change)
        return after

    def _own_attempt(self, partner_reference: str, change: AttemptChange) -> PaymentRecord | None:
        """The payment if ``change``'s new attempt (its ``claimId``) is already on it; else None."""
        data = self._read(partner_reference)
        if data is None or data.get("attemptReference") != change.attempt_reference:
            return None
        if not any(entry.get("claimId") == change.claim_id for entry in data.get("attempts", ())):
            return None
        return record_from_item(data)


def _attempts_as_read(record: PaymentRecord, values: dict[str, Any]) -> list[str]:
    """Conditions that the attempts list is as ``record`` read it: as many entries, each paid or not as read.
    The write replaces the whole list, and two attempts confirmed paid at once on a closed payment change
    nothing else (status, attempt, reference): without these, each decided "not paid twice" and the second
    write erased the first one's ``paidAt``. A write refused here is decided again on a fresh read."""
    if not record.attempts:
        values[":no_attempts"] = 0
        return ["(attribute_not_exists(attempts) OR size(attempts) = :no_attempts)"]
    values[":n_attempts"] = len(record.attempts)
    conditions = ["size(attempts) = :n_attempts"]
    for index, entry in enumerate(record.attempts):
        test = "attribute_exists" if entry.get("paidAt") else "attribute_not_exists"
        conditions.append(f"{test}(attempts[{index}].paidAt)")
    return conditions
