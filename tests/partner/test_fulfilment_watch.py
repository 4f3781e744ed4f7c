"""Which paid payments PaidNotFulfilled counts: the byStatus window and the read limit (moto)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pay1st.models import FulfilmentItem
from pay1st_partner.payments.fulfilment_watch import paid_not_fulfilled
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

from tests.partner.helpers import Clock

HOURS = timedelta(hours=2)


def test_counts_paid_payments_past_the_hours_within_the_lookback_and_not_delivered(
    aws: Any, repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    def paid(partner_reference: str) -> None:
        new_payment(partner_reference)
        assert repo.apply_status(partner_reference, "SUCCESSFUL", source="test").applied
        clock.advance(1)  # creation times in the order written

    # Given a payment paid 8 days ago (before the week looked at), three paid 6 days ago - one delivered,
    # one recorded but not delivered, one never fulfilled - and one paid an hour ago (not yet due)
    paid("order-too-old")
    clock.advance(timedelta(days=2).total_seconds())
    for reference in ("order-delivered", "order-queued", "order-unfulfilled"):
        paid(reference)
    for reference in ("order-delivered", "order-queued"):
        repo.record_fulfilment(reference, [FulfilmentItem("GEM-500", 1, clock())])
    repo.mark_fulfilment_delivered("order-delivered")
    clock.advance(timedelta(days=6).total_seconds() - 3600)
    paid("order-young")
    new_payment("order-open")  # never paid: not SUCCESSFUL, never counted
    clock.advance(3600)

    store = DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)
    # When the gauge counts them, Then exactly the two due, in the window, without a delivery, newest first
    assert paid_not_fulfilled(store, older_than=HOURS, now=clock()) == (
        ["order-unfulfilled", "order-queued"],
        False,
    )
    # And a longer look back finds the old one too; a shorter wait the young one
    everything = paid_not_fulfilled(store, older_than=HOURS, now=clock(), lookback=timedelta(days=30))
    assert everything == (["order-unfulfilled", "order-queued", "order-too-old"], False)
    sooner = paid_not_fulfilled(store, older_than=timedelta(minutes=30), now=clock())
    assert sooner[0] == ["order-young", "order-unfulfilled", "order-queued"]
    # And the read limit is said when it cut the count short; what it leaves out is the oldest, so a recent
    # payment without its fulfilment is counted however many paid payments the window holds
    assert paid_not_fulfilled(store, older_than=HOURS, now=clock(), max_read=3)[1] is True
    assert paid_not_fulfilled(store, older_than=HOURS, now=clock(), max_read=2) == (
        ["order-unfulfilled", "order-queued"],
        True,
    )
    assert paid_not_fulfilled(store, older_than=timedelta(minutes=30), now=clock(), max_read=1) == (
        ["order-young"],
        True,
    )
