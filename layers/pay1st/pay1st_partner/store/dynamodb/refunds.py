"""The refund and reversal writes of the DynamoDB payments store (contract §15, §16), kept apart for size.

Mixed into :class:`pay1st_partner.store.dynamodb.store.DynamoDBPaymentStore`. Layout and the reason refunds live
on the payment item: :mod:`pay1st_partner.store.items`. Every write is one conditional UpdateItem on the
payment item: the refundable check is the condition ``refundReserved <= amount - refund``, which needs no
earlier read to be right, so concurrent claims can never together exceed the payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from pay1st_partner import refund_state, state
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.codec import from_item, is_condition_failure, to_item
from pay1st_partner.store.dynamodb.payment_item import PaymentItemAccess
from pay1st_partner.store.dynamodb.pointers import claim_pointer, pointer_owner
from pay1st_partner.store.items import (
    MAX_REFUNDS_PER_PAYMENT,
    OPEN_MARKER,
    OPEN_REFUNDS_INDEX,
    OUTBOX_PENDING,
    history_entry,
    marker_partitions,
    record_from_item,
    refund_pointer_key,
    sharded,
)
from pay1st_partner.store.port import RefundChange, ReversalChange


class DynamoDBRefundWrites(PaymentItemAccess):
    def _ensure_refund_totals(self, partner_reference: str) -> None:
        """The maps and totals a first refund or reversal writes into (a nested SET needs its parent)."""
        self._update(
            partner_reference,
            UpdateExpression=(
                "SET refunds = if_not_exists(refunds, :map), reversals = if_not_exists(reversals, :map), "
                "refundReserved = if_not_exists(refundReserved, :zero), "
                "refundedAmount = if_not_exists(refundedAmount, :zero), "
                "refundsOpen = if_not_exists(refundsOpen, :zero)"
            ),
            ConditionExpression="attribute_exists(partnerReference) AND attribute_not_exists(refundsOpen)",
            ExpressionAttributeValues=to_item({":map": {}, ":zero": Decimal(0)}),
        )

    # ------------------------------------------------------------ refundReference pointers

    def claim_refund_reference(self, refund_reference: str, partner_reference: str) -> str:
        # The owner, or ``partner_reference`` when the pointer was released meanwhile: the claim retries.
        return claim_pointer(
            self._client, self._table, refund_pointer_key(refund_reference), "refundOf", partner_reference
        )

    def release_refund_reference(self, refund_reference: str, partner_reference: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"partnerReference": {"S": refund_pointer_key(refund_reference)}},
                ConditionExpression="refundOf = :owner",
                ExpressionAttributeValues={":owner": {"S": partner_reference}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    def refund_owner(self, refund_reference: str) -> str | None:
        return pointer_owner(self._client, self._table, refund_pointer_key(refund_reference), "refundOf")

    # ------------------------------------------------------------ refunds

    def add_refund(
        self, partner_reference: str, entry: Mapping[str, Any], *, reserve_up_to: Decimal, at: str
    ) -> PaymentRecord | None:
        self._ensure_refund_totals(partner_reference)
        after = self._update(
            partner_reference,
            UpdateExpression=(
                "SET refunds.#ref = :entry, refundReserved = refundReserved + :amount, "
                "refundsOpen = refundsOpen + :one, refundOpenMarker = :open, "
                "refundOpenSince = if_not_exists(refundOpenSince, :now)"
            ),
            ConditionExpression=(
                "#status = :successful AND size(reversals) = :zero AND attribute_not_exists(refunds.#ref) "
                "AND size(refunds) < :max AND refundReserved <= :limit"
            ),
            ExpressionAttributeNames={"#ref": entry["refundReference"], "#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":entry": dict(entry),
                    ":amount": Decimal(entry["amount"]),
                    ":one": Decimal(1),
                    ":zero": Decimal(0),
                    ":open": sharded(OPEN_MARKER, partner_reference),
                    ":now": at,
                    ":successful": state.SUCCESSFUL,
                    ":max": Decimal(MAX_REFUNDS_PER_PAYMENT),
                    ":limit": reserve_up_to,
                }
            ),
        )
        if after is None and entry.get("claimId"):  # applied already by this very claim (a retried write)?
            return self._own_claim(partner_reference, ("refunds", entry["refundReference"]), entry["claimId"])
        return after

    def remove_refund(self, partner_reference: str, refund_reference: str, amount: Decimal, at: str) -> bool:
        after = self._update(
            partner_reference,
            UpdateExpression=(
                "REMOVE refunds.#ref SET refundReserved = refundReserved - :amount, refundsOpen = refundsOpen - :one"
            ),
            ConditionExpression="refunds.#ref.#status = :creating",
            ExpressionAttributeNames={"#ref": refund_reference, "#status": "status"},
            ExpressionAttributeValues=to_item(
                {":amount": amount, ":one": Decimal(1), ":creating": refund_state.CREATING}
            ),
        )
        if after is None:
            return False
        self._clear_open_marker(partner_reference)
        return True

    def write_refund_transition(self, change: RefundChange) -> PaymentRecord | None:
        names = {"#ref": change.refund_reference, "#status": "status"}
        values: dict[str, Any] = {
            ":status": change.status,
            ":current": change.current,
            ":now": change.at,
            ":hist": [history_entry(change.status, change.at, change.source)],
        }
        sets = [
            "refunds.#ref.#status = :status",
            "refunds.#ref.updatedAt = :now",
            "refunds.#ref.history = list_append(refunds.#ref.history, :hist)",
        ]
        if change.pay1st_refund_reference is not None:
            values[":pay1st"] = change.pay1st_refund_reference
            sets.append("refunds.#ref.pay1stRefundReference = :pay1st")
        if change.handling_type is not None:
            values[":handling"] = change.handling_type
            sets.append("refunds.#ref.handlingType = :handling")
        if change.status in refund_state.RELEASED_STATUSES:
            values[":amount"] = change.amount
            sets.append("refundReserved = refundReserved - :amount")
        if change.status == refund_state.SUCCESSFUL:
            values[":amount"] = change.amount
            sets.append("refundedAmount = refundedAmount + :amount")
        closing = refund_state.is_final(change.status)
        if closing:
            values[":one"] = Decimal(1)
            sets.append("refundsOpen = refundsOpen - :one")
        sets += outbox_sets(change.events, names, values)
        after = self._update(
            change.partner_reference,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="refunds.#ref.#status = :current",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )
        if after is not None and closing:
            self._clear_open_marker(change.partner_reference)
        return after

    def _clear_open_marker(self, partner_reference: str) -> None:
        # Conditional: a refund claimed since keeps the marker (as the outbox markers, see clear_event).
        self._update(
            partner_reference,
            UpdateExpression="REMOVE refundOpenMarker, refundOpenSince",
            ConditionExpression="refundsOpen <= :zero AND attribute_exists(refundOpenMarker)",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )

    def open_refund_payments(self, *, older_than: str, limit: int) -> list[PaymentRecord]:
        found = self._shards(
            OPEN_REFUNDS_INDEX,
            "refundOpenMarker",
            marker_partitions(OPEN_MARKER),  # every shard, and the legacy partition
            "refundOpenSince",
            older_than,
            limit,
        )
        return [record_from_item(from_item(item)) for item in self._merged(found, limit)]

    # ------------------------------------------------------------ reversals

    def record_reversal(self, change: ReversalChange) -> PaymentRecord | None:
        self._ensure_refund_totals(change.partner_reference)
        names = {"#kind": change.kind, "#status": "status"}
        values: dict[str, Any] = {
            ":entry": {"at": change.at, "source": change.source},
            ":successful": state.SUCCESSFUL,
            ":now": change.at,
        }
        sets = [
            "reversals.#kind = :entry",
            *outbox_sets(() if change.event is None else (change.event,), names, values),
        ]
        return self._update(
            change.partner_reference,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="#status = :successful AND attribute_not_exists(reversals.#kind)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )


def outbox_sets(
    events: tuple[OutboxEvent, ...],
    names: dict[str, str],
    values: dict[str, Any],
    *,
    marked: bool = True,
    payment: Mapping[str, Any] | None = None,
) -> list[str]:
    """SET clauses adding ``events`` to the payment's outbox (``values[":now"]`` must be set); every writer of
    the outbox (status, refund, reversal and attempt writes) uses it, so the shard marker is written one way.
    ``marked=False``: no pendingEvents marker, for a write that leaves the payment on the watch list;
    ``payment``: the item's amount, currency and country, which a stored event need not repeat."""
    sets: list[str] = []
    for index, event in enumerate(events):
        names[f"#eid{index}"] = event.event_id
        values[f":event{index}"] = event.to_stored_json(payment)
        sets.append(f"outbox.#eid{index} = :event{index}")
    if events and marked:
        values[":pending"] = sharded(OUTBOX_PENDING, events[0].partner_reference)
        sets += ["outboxMarker = :pending", "outboxSince = if_not_exists(outboxSince, :now)"]
    return sets
