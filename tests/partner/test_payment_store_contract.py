"""The payments store contract: claims, conditional transitions, the outbox and fulfilment records.

Every test runs twice, through :class:`PaymentRepository`, once on DynamoDB (moto) and once on the
in-memory store: the two must behave alike, down to the stored item's layout (``raw_item`` reads it in
DynamoDB's typed form from either), so a domain rule tested on the fast one holds on the real one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from pay1st.models import FulfilmentItem
from pay1st_partner.clock import isoformat
from pay1st_partner.errors import InvalidRequest, PaymentConflict, PaymentNotFound
from pay1st_partner.events import payment_event
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import ReferenceMismatch
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.state import Verdict
from pay1st_partner.store.codec import from_item
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.store.items import claim_item, record_from_item, sharded
from pay1st_partner.store.memory.store import InMemoryPaymentStore
from pay1st_partner.store.port import PaymentStore, StatusChange, WebhookReceipt

from tests.partner.helpers import Clock, created_payment, payment_request

_serializer = TypeSerializer()


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> PaymentStore:
    if request.param == "memory":
        return InMemoryPaymentStore()
    aws = request.getfixturevalue("aws")
    return DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)


@pytest.fixture
def repo(store: PaymentStore, clock: Clock) -> PaymentRepository:
    return PaymentRepository(store, clock=clock)


@pytest.fixture
def raw_item(store: PaymentStore, request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any]]:
    """The stored item in DynamoDB's typed form, from either store."""

    def read(partner_reference: str) -> dict[str, Any]:
        if isinstance(store, InMemoryPaymentStore):
            item = store.item(partner_reference)
            assert item is not None
            return {key: _serializer.serialize(value) for key, value in item.items()}
        aws = request.getfixturevalue("aws")
        found: dict[str, Any] = aws.dynamodb.get_item(
            TableName="PaymentsTable", Key={"partnerReference": {"S": partner_reference}}
        )["Item"]
        return found

    return read


class _StoreProxy:
    """A store with some methods replaced (to stage races and count reads), the rest passed through."""

    def __init__(self, target: PaymentStore, **overrides: Any) -> None:
        self._target = target
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._target, name)


# ---------------------------------------------------------------------------- fingerprint


def test_fingerprint_ignores_how_an_amount_is_written_but_not_what_it_is() -> None:
    assert fingerprint(payment_request(amount="250.50")) == fingerprint(payment_request(amount="250.5"))
    assert fingerprint(payment_request(amount="250.50")) != fingerprint(payment_request(amount="250.51"))
    assert fingerprint(payment_request(currency="NGN", country="NG")) != fingerprint(payment_request())


def test_fingerprint_ignores_the_partner_reference_and_metadata() -> None:
    assert fingerprint(payment_request("a")) == fingerprint(payment_request("b"))


# ---------------------------------------------------------------------------- claim / create


def test_claim_creates_a_creating_item_once(repo: PaymentRepository) -> None:
    # Given a create request
    request = payment_request()
    # When it is claimed twice
    first = repo.claim(request, fingerprint(request), "ch-1")
    second = repo.claim(request, fingerprint(request), None)
    # Then the first claim wins and the second sees the first's record
    assert first.created and not second.created
    assert second.record == first.record
    assert first.record.status == "CREATING"
    assert first.record.channel_id == "ch-1"
    assert first.record.amount == Decimal("250.50")
    assert first.record.products == request.products
    assert first.record.metadata == request.metadata
    assert first.record.reference is None and first.record.is_open


def test_amounts_read_back_exactly_as_written(repo: PaymentRepository, raw_item: Any) -> None:
    request = payment_request(amount="250.50")
    repo.claim(request, fingerprint(request), None)
    record = repo.get("order-1001")
    assert record is not None and str(record.amount) == "250.50"
    assert str(record.products[0].price) == "250.50"


def test_claimed_payment_is_not_open_for_the_poller_until_it_has_a_reference(
    repo: PaymentRepository, raw_item: Any
) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    assert "openMarker" not in raw_item("order-1001")


def test_mark_created_moves_to_new_with_the_reference(
    repo: PaymentRepository, raw_item: Any, clock: Clock
) -> None:
    # Given a claimed payment
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    clock.advance(2)
    # When the gateway's answer arrives
    record = repo.mark_created("order-1001", created_payment(request))
    # Then it is NEW, open and findable by the Pay1st reference
    assert record.status == "NEW" and record.reference == "C-113976984708914-P"
    assert record.updated_at == "2026-01-15T10:30:02.000Z" and record.created_at == "2026-01-15T10:30:00.000Z"
    # (on its shard of the open index, due for its first check a minute after it was created)
    item = raw_item("order-1001")
    assert item["openMarker"] == {"S": "OPEN#1"} and item["nextCheckAt"] == {"S": "2026-01-15T10:31:00.000Z"}
    assert repo.find_by_reference("C-113976984708914-P") == record
    assert repo.find_by_reference("C-other-P") is None


def test_a_create_answered_pending_commits_its_payment_pending_event(
    repo: PaymentRepository, clock: Clock
) -> None:
    # Given a claimed payment
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    # When the gateway answers the create with PENDING (an offline method)
    created = replace(created_payment(request), status="PENDING")
    record = repo.mark_created("order-1001", created)
    # Then the transition carries its event in the outbox, like any other
    assert record.status == "PENDING" and record.pending_event_ids == ("order-1001:PENDING",)
    clock.advance(1)
    [event] = repo.pending_events(older_than=clock(), limit=10)
    assert event.detail_type == "Payment Pending"
    assert event.detail["previousStatus"] == "CREATING"
    assert event.detail["reference"] == "C-113976984708914-P"


def test_a_create_answered_new_commits_no_event(repo: PaymentRepository) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    assert repo.mark_created("order-1001", created_payment(request)).pending_event_ids == ()


def test_mark_created_after_unknown_outcome_adopts(repo: PaymentRepository, raw_item: Any) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    unknown = repo.get("order-1001")
    assert unknown is not None and unknown.status == "CREATE_UNKNOWN"
    # Still not open for the poller (nothing to query the gateway with) and nothing to announce
    assert "openMarker" not in raw_item("order-1001") and unknown.pending_event_ids == ()
    assert repo.mark_created("order-1001", created_payment(request)).status == "NEW"


def test_mark_created_when_a_webhook_adopted_it_first_returns_the_moved_on_payment(
    repo: PaymentRepository,
) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    repo.apply_status("order-1001", "PENDING", source="webhook", reference="C-113976984708914-P")
    record = repo.mark_created("order-1001", created_payment(request))
    assert record.status == "PENDING"


def test_mark_created_with_another_reference_after_adoption_conflicts(repo: PaymentRepository) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.apply_status("order-1001", "PENDING", source="webhook", reference="C-1-P")
    with pytest.raises(PaymentConflict):
        repo.mark_created("order-1001", created_payment(request, "C-2-P"))


def test_mark_outcome_unknown_only_from_creating(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    repo.mark_outcome_unknown("order-1001")
    assert repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]


def test_release_claim_deletes_only_a_creating_item(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    request = payment_request("order-2")
    repo.claim(request, fingerprint(request), None)
    repo.release_claim("order-2")
    assert repo.get("order-2") is None
    assert repo.claim(request, fingerprint(request), None).created

    new_payment("order-3")
    repo.release_claim("order-3")
    assert repo.get("order-3") is not None


# ---------------------------------------------------------------------------- transitions


def test_a_transition_writes_status_and_outbox_event_together(
    store: PaymentStore, repo: PaymentRepository, new_payment: Callable[..., Any], raw_item: Any, clock: Clock
) -> None:
    # Given a NEW payment
    new_payment()
    before = raw_item("order-1001")
    clock.advance(5)
    # When the gateway reports SUCCESSFUL
    transition = repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    # Then the status moved, the payment stays on the watch list with its keys unchanged (no index write: it
    # leaves when its fulfilment is delivered) and the event waits in the outbox, with no pendingEvents marker
    # (the watch list leads the poller to it), stored without what the item already holds
    assert transition.applied and transition.previous_status == "NEW"
    assert transition.record.status == "SUCCESSFUL" and transition.record.is_final
    assert transition.event is not None
    assert transition.event.event_id == "order-1001:SUCCESSFUL"
    assert transition.event.detail_type == "Payment Succeeded"
    assert dict(transition.event.detail) == {
        "eventId": "order-1001:SUCCESSFUL",
        "partnerReference": "order-1001",
        "reference": "C-order-1001-P",
        "status": "SUCCESSFUL",
        "previousStatus": "NEW",
        "amount": "250.50",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "occurredAt": "2026-01-15T10:30:05.000Z",
    }
    item = raw_item("order-1001")
    assert item["openMarker"] == {"S": "OPEN#1"} and item["nextCheckAt"] == before["nextCheckAt"]
    assert "outboxMarker" not in item and "outboxSince" not in item
    stored = json.loads(item["outbox"]["M"]["order-1001:SUCCESSFUL"]["S"])
    assert stored["d"]["status"] == "SUCCESSFUL" and "amount" not in stored["d"]
    assert transition.record.pending_event_ids == ("order-1001:SUCCESSFUL",)
    # And what is stored reads back as the event published
    (waiting,) = store.outbox_events("order-1001")
    assert waiting == transition.event


def test_duplicates_and_late_statuses_change_nothing(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    assert repo.apply_status("order-1001", "PENDING", source="webhook").applied
    again = repo.apply_status("order-1001", "PENDING", source="webhook")
    late = repo.apply_status("order-1001", "NEW", source="webhook")
    assert again.verdict is Verdict.SAME and again.event is None
    assert late.verdict is Verdict.STALE and late.event is None
    assert repo.get("order-1001").status == "PENDING"  # type: ignore[union-attr]


def test_new_after_adoption_emits_no_event(repo: PaymentRepository) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    transition = repo.apply_status("order-1001", "NEW", source="webhook", reference="C-1-P")
    assert transition.applied and transition.event is None
    assert transition.record.reference == "C-1-P"


def test_a_payment_without_reference_needs_one_to_change(repo: PaymentRepository) -> None:
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    with pytest.raises(ValueError, match="reference"):
        repo.apply_status("order-1001", "PENDING", source="webhook")


def test_a_report_with_another_reference_is_refused(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    with pytest.raises(ReferenceMismatch):
        repo.apply_status("order-1001", "SUCCESSFUL", source="webhook", reference="C-someone-else-P")
    assert repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]


def test_final_vs_final_is_recorded_once_as_a_conflict(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    repo.apply_status("order-1001", "FAILED", source="webhook")
    first = repo.apply_status("order-1001", "SUCCESSFUL", source="poller")
    second = repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    assert first.verdict is Verdict.CONFLICT and second.verdict is Verdict.CONFLICT
    record = repo.get("order-1001")
    assert record is not None and record.status == "FAILED"
    assert [dict(c) for c in record.conflicts] == [
        {
            "status": "SUCCESSFUL",
            "recordedStatus": "FAILED",
            "at": "2026-01-15T10:30:00.000Z",
            "source": "poller",
        }
    ]


def test_unknown_status_is_recorded_not_applied(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    # PAY_OFFLINE was the example here until in-progress steps became open statuses (issue 25, §9: they are
    # recorded as the payment's step, tests/partner/test_steps.py); a status nobody documents still is unknown.
    new_payment()
    transition = repo.apply_status("order-1001", "ON_HOLD", source="webhook")
    assert transition.verdict is Verdict.UNKNOWN and transition.event is None
    assert transition.record.status == "NEW" and transition.record.last_unknown_status == "ON_HOLD"


def test_unknown_payment_raises_not_found(repo: PaymentRepository) -> None:
    with pytest.raises(PaymentNotFound):
        repo.apply_status("nope", "SUCCESSFUL", source="webhook")


def test_a_lost_race_is_decided_again(
    repo: PaymentRepository, new_payment: Callable[..., Any], store: PaymentStore
) -> None:
    # Given a writer that moves the payment to PENDING just before our conditional write
    new_payment()
    raced = False

    def racing_write(change: StatusChange) -> Any:
        nonlocal raced
        if not raced:
            raced = True
            other = PaymentRepository(store)
            other.apply_status("order-1001", "PENDING", source="other")
        return store.write_transition(change)

    racing = PaymentRepository(_StoreProxy(store, write_transition=racing_write))  # type: ignore[arg-type]
    # When we report SUCCESSFUL
    transition = racing.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    # Then our write failed its condition, was re-decided from PENDING, and applied with the right previous status
    assert raced and transition.applied and transition.previous_status == "PENDING"
    assert repo.get("order-1001").pending_event_ids == ("order-1001:PENDING", "order-1001:SUCCESSFUL")  # type: ignore[union-attr]


def test_a_transition_decides_on_the_callers_record_without_reading_again(
    repo: PaymentRepository, new_payment: Callable[..., Any], store: PaymentStore
) -> None:
    # Given a payment the caller has just read, and a store that counts reads
    current = new_payment()
    reads: list[str] = []

    def counted_get(partner_reference: str) -> Any:
        reads.append(partner_reference)
        return store.get(partner_reference)

    counting = PaymentRepository(_StoreProxy(store, get=counted_get))  # type: ignore[arg-type]
    # When a status is reported with that record
    transition = counting.apply_status("order-1001", "PENDING", source="webhook", current=current)
    # Then it is applied without reading the item again
    assert transition.applied and reads == []


def test_an_outdated_callers_record_is_caught_by_the_condition_and_read_again(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    # Given a record read while the payment was NEW, and the payment PENDING since
    outdated = new_payment()
    repo.apply_status("order-1001", "PENDING", source="webhook")
    # When SUCCESSFUL is reported with the outdated record
    transition = repo.apply_status("order-1001", "SUCCESSFUL", source="poller", current=outdated)
    # Then the write's condition caught it, and the transition was decided again from PENDING
    assert transition.applied and transition.previous_status == "PENDING"
    assert transition.event is not None and transition.event.detail["previousStatus"] == "PENDING"


def test_a_callers_record_of_another_payment_is_refused(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    other = new_payment("order-2")
    with pytest.raises(ValueError, match="another payment"):
        repo.apply_status("order-1001", "PENDING", source="webhook", current=other)


@pytest.fixture
def receipt_of(store: PaymentStore, request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any] | None]:
    """A webhook receipt as recorded (DynamoDB: its item in the webhook events table), without the key."""

    def read(event_id: str) -> dict[str, Any] | None:
        if isinstance(store, InMemoryPaymentStore):
            return store.receipts.get(event_id)
        aws = request.getfixturevalue("aws")
        found = aws.dynamodb.get_item(
            TableName="WebhookEventsTable", Key={"eventId": {"S": event_id}}, ConsistentRead=True
        ).get("Item")
        return None if found is None else {k: v["S"] for k, v in found.items() if k != "eventId"}

    return read


def test_a_transition_records_the_webhooks_receipt_in_the_same_write_and_only_when_applied(
    repo: PaymentRepository,
    new_payment: Callable[..., Any],
    store: PaymentStore,
    clock: Clock,
    receipt_of: Callable[[str], dict[str, Any] | None],
) -> None:
    # Given a NEW payment and the receipt of the webhook reporting it paid
    read_before = new_payment()
    clock.advance(5)
    receipt = WebhookReceipt(
        "WebhookEventsTable", "evt-1", "applied", "2026-01-15T10:30:05.000Z", {"reportedStatus": "SUCCESSFUL"}
    )
    # When the transition is applied with it, and the status query that confirmed it
    query = {"by": "webhook", "answer": "SUCCESSFUL", "outcome": "applied"}
    transition = repo.apply_status("order-1001", "SUCCESSFUL", source="webhook", receipt=receipt, query=query)
    # Then the receipt is recorded, and the record returned is the payment as stored (its query history too)
    assert transition.applied
    assert receipt_of("evt-1") == {
        "outcome": "applied",
        "processedAt": "2026-01-15T10:30:05.000Z",
        "reportedStatus": "SUCCESSFUL",
    }
    assert transition.record == repo.get("order-1001")
    assert (
        transition.record.status_queries is not None
        and transition.record.status_queries[-1]["answer"] == "SUCCESSFUL"
    )
    # But a report that applies nothing records no receipt (the caller writes its own outcome)
    again = repo.apply_status(
        "order-1001", "SUCCESSFUL", source="webhook", receipt=replace(receipt, event_id="evt-2")
    )
    assert not again.applied and receipt_of("evt-2") is None
    # And a write whose condition failed records neither the transition nor the receipt
    lost = StatusChange(
        read_before,
        "FAILED",
        "webhook",
        "2026-01-15T10:30:06.000Z",
        receipt=replace(receipt, event_id="evt-3"),
    )
    assert store.write_transition(lost) is None
    assert receipt_of("evt-3") is None and repo.get("order-1001").status == "SUCCESSFUL"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- poller queries


def test_open_payments_are_the_least_recently_touched_older_than_the_cutoff(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    # Given three payments created a minute apart, one of them already final
    for name in ("a", "b", "c"):
        new_payment(name)
        clock.advance(60)
    repo.apply_status("b", "FAILED", source="webhook")
    # When asked for open payments older than "now"
    found = repo.open_payments(older_than=clock(), limit=10)
    # Then the final one is not there and the oldest comes first
    assert [r.partner_reference for r in found] == ["a", "c"]
    # And a check moves a payment to the back of the queue
    clock.advance(1)
    repo.touch_checked("a")
    clock.advance(1)
    assert [r.partner_reference for r in repo.open_payments(older_than=clock(), limit=10)] == ["c", "a"]
    assert [r.partner_reference for r in repo.open_payments(older_than=clock(), limit=1)] == ["c"]
    assert repo.get("a").last_checked_at == "2026-01-15T10:33:01.000Z"  # type: ignore[union-attr]


def test_pending_events_and_clear_event(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    # Given two committed transitions on one payment
    new_payment()
    repo.apply_status("order-1001", "PENDING", source="webhook")
    clock.advance(1)
    repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    # When the outbox is read before and after the cutoff
    assert repo.pending_events(older_than=clock() - timedelta(seconds=30), limit=10) == []
    clock.advance(60)
    pending = repo.pending_events(older_than=clock(), limit=10)
    # Then both events are there, and clearing them one by one empties the outbox and drops the markers
    assert sorted(e.event_id for e in pending) == ["order-1001:PENDING", "order-1001:SUCCESSFUL"]
    repo.clear_event("order-1001", "order-1001:PENDING")
    assert raw_item("order-1001")["outboxMarker"] == {"S": "PENDING#1"}
    repo.clear_event("order-1001", "order-1001:SUCCESSFUL")
    repo.clear_event("order-1001", "order-1001:SUCCESSFUL")  # twice is harmless
    item = raw_item("order-1001")
    assert "outboxMarker" not in item and "outboxSince" not in item and item["outbox"] == {"M": {}}
    assert repo.pending_events(older_than=clock(), limit=10) == []


# ---------------------------------------------------------------------------- fulfilment


def _items(quantity: int = 1, when: datetime | None = None) -> list[FulfilmentItem]:
    return [
        FulfilmentItem(
            sku="GEM-500", quantity=quantity, fulfilment_time=when or datetime(2026, 1, 15, tzinfo=UTC)
        )
    ]


def test_fulfilment_needs_a_successful_payment(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    with pytest.raises(PaymentConflict) as caught:
        repo.record_fulfilment("order-1001", _items())
    assert caught.value.code == "payment_not_successful"
    with pytest.raises(PaymentNotFound):
        repo.record_fulfilment("nope", _items())


def test_fulfilment_is_recorded_once_and_repeats_are_idempotent(
    repo: PaymentRepository, new_payment: Callable[..., Any]
) -> None:
    # Given a paid payment
    new_payment()
    repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    # When the fulfilment is recorded, then repeated with a later time, then changed
    first = repo.record_fulfilment("order-1001", _items())
    again = repo.record_fulfilment("order-1001", _items(when=datetime(2026, 1, 16, tzinfo=UTC)))
    # Then the repeat returns the first record, the change is a conflict
    assert first.fulfilment == again.fulfilment
    assert first.fulfilment_items() == tuple(_items())
    with pytest.raises(PaymentConflict) as caught:
        repo.record_fulfilment("order-1001", _items(quantity=2))
    assert caught.value.code == "fulfilment_conflict"


def test_fulfilment_delivery_is_marked_once(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    new_payment()
    repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    repo.record_fulfilment("order-1001", _items())
    repo.mark_fulfilment_delivered("order-1001")
    clock.advance(10)
    repo.mark_fulfilment_delivered("order-1001")
    record = repo.get("order-1001")
    assert record is not None and record.fulfilment is not None
    assert record.fulfilment["deliveredAt"] == "2026-01-15T10:30:00.000Z"


# ---------------------------------------------------------------------------- status-query slot


def test_one_status_query_per_interval_and_priority_over_background(
    repo: PaymentRepository, clock: Clock, raw_item: Any
) -> None:
    # Given a payment never queried
    request = payment_request()
    repo.claim(request, fingerprint(request), None)
    # Then the first caller takes the slot and the next ones within the interval do not
    assert repo.claim_status_query("order-1001", min_interval=15)
    assert not repo.claim_status_query("order-1001", min_interval=15)
    assert raw_item("order-1001")["lastQueryAt"] == {"S": "2026-01-15T10:30:00.000Z"}
    # But an authenticated webhook may take a background caller's slot, once
    assert repo.claim_status_query("order-1001", min_interval=15, priority=True)
    assert not repo.claim_status_query("order-1001", min_interval=15, priority=True)
    assert not repo.claim_status_query("order-1001", min_interval=15)
    assert raw_item("order-1001")["lastQueryPriority"] == {"BOOL": True}
    # And once the interval has passed, anyone may again
    clock.advance(15)
    assert repo.claim_status_query("order-1001", min_interval=15)
    # The slot does not count as an update: the poller's order (updatedAt) is untouched
    assert raw_item("order-1001")["updatedAt"] == {"S": "2026-01-15T10:30:00.000Z"}


def test_no_status_query_slot_for_an_unknown_payment(repo: PaymentRepository) -> None:
    assert not repo.claim_status_query("order-404", min_interval=15)
    assert not repo.claim_status_query("order-404", min_interval=15, priority=True)


def test_a_read_takes_the_query_slot_only_for_a_report_that_would_be_confirmed(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    # Given a NEW payment never queried
    new_payment()

    def read(reference: str = "C-order-1001-P", amount: str = "250.50", currency: str = "ZAR") -> Any:
        return repo.get_claiming_query(
            "order-1001",
            report="SUCCESSFUL",
            reference=reference,
            currency_code=currency,
            amount=Decimal(amount),
            min_interval=15,
            priority=True,
        )

    # When a SUCCESSFUL report for it reads the payment
    record, taken = read()
    # Then the same write took the slot, and the payment comes back as stored
    assert taken and record == repo.get("order-1001")
    assert raw_item("order-1001")["lastQueryAt"] == {"S": "2026-01-15T10:30:00.000Z"}
    # And within the interval the slot is not taken again, but the payment is still read
    clock.advance(1)
    record, taken = read()
    assert not taken and record is not None and record.status == "NEW"
    assert raw_item("order-1001")["lastQueryAt"] == {"S": "2026-01-15T10:30:00.000Z"}
    # And once the interval has passed, a report that would not be confirmed reads without taking it:
    # another reference, another currency, another amount (or the same one written otherwise)
    clock.advance(15)
    for other in ({"reference": "C-other-P"}, {"currency": "NGN"}, {"amount": "250.51"}, {"amount": "250.5"}):
        record, taken = read(**other)
        assert not taken and record is not None, other
    assert raw_item("order-1001")["lastQueryAt"] == {"S": "2026-01-15T10:30:00.000Z"}
    # Nor for a payment already paid, or one that does not exist
    repo.apply_status("order-1001", "SUCCESSFUL", source="poller")
    record, taken = read()
    assert not taken and record is not None and record.status == "SUCCESSFUL"
    assert repo.get_claiming_query(
        "order-404",
        report="SUCCESSFUL",
        reference="C-order-404-P",
        currency_code="ZAR",
        amount=Decimal("250.50"),
        min_interval=15,
    ) == (None, False)
    # The slot never counts as an update: the poller's order (updatedAt) moved only with the transition
    assert raw_item("order-1001")["updatedAt"] == {"S": "2026-01-15T10:30:16.000Z"}


# ---------------------------------------------------------------------------- refunds (contract §15)


@pytest.fixture
def refunds(store: PaymentStore, clock: Clock) -> RefundRepository:
    return RefundRepository(store, clock=clock)


@pytest.fixture
def paid(repo: PaymentRepository, new_payment: Callable[..., Any]) -> Callable[..., Any]:
    """Given a SUCCESSFUL payment of 250.50 ZAR."""

    def make(partner_reference: str = "order-1001") -> Any:
        new_payment(partner_reference)
        return repo.apply_status(partner_reference, "SUCCESSFUL", source="test").record

    return make


def _outbox_types(raw: dict[str, Any]) -> list[str]:
    item = from_item(raw)
    return sorted(OutboxEvent.from_stored(item, text).detail_type for text in item.get("outbox", {}).values())


def test_a_refund_claim_reserves_its_amount_and_a_repeat_returns_it(
    refunds: RefundRepository, paid: Callable[..., Any], raw_item: Any
) -> None:
    # Given a paid payment
    paid()
    # When a partial refund is claimed, twice
    first = refunds.claim("order-1001", "r-1", Decimal("100.00"), "goodwill")
    again = refunds.claim("order-1001", "r-1", Decimal("100"), None)
    # Then one refund holds 100.00 of the payment, and the repeat is the same refund
    assert first.created and not again.created and again.refund == first.refund
    assert first.refund.status == "CREATING" and first.refund.amount == Decimal("100.00")
    assert first.payment.refund_reserved == Decimal("100") and first.payment.refundable_amount == Decimal(
        "150.50"
    )
    item = raw_item("order-1001")
    assert Decimal(item["refundReserved"]["N"]) == 100 and item["refundOpenMarker"] == {"S": "OPEN#1"}
    assert item["refunds"]["M"]["r-1"]["M"]["amount"] == {"S": "100.00"}
    assert refunds.owner("r-1") == "order-1001"


def test_the_same_refund_reference_for_another_amount_or_payment_is_a_conflict(
    refunds: RefundRepository, paid: Callable[..., Any]
) -> None:
    paid()
    paid("order-1002")
    refunds.claim("order-1001", "r-1", Decimal("100.00"), None)
    for partner_reference, amount in (
        ("order-1001", Decimal("99.00")),
        ("order-1001", None),
        ("order-1002", Decimal("100.00")),
    ):
        with pytest.raises(PaymentConflict) as error:
            refunds.claim(partner_reference, "r-1", amount, None)
        assert error.value.code == "refund_conflict"


@pytest.mark.parametrize(
    ("amount", "code"),
    [("250.51", "amount_exceeds_refundable"), ("1.001", "invalid_request")],
)
def test_an_amount_the_payment_cannot_take_is_a_400_and_frees_the_reference(
    refunds: RefundRepository, paid: Callable[..., Any], amount: str, code: str
) -> None:
    paid()
    with pytest.raises(InvalidRequest) as error:
        refunds.claim("order-1001", "r-1", Decimal(amount), None)
    assert error.value.code == code
    assert refunds.owner("r-1") is None and refunds.get("order-1001").refunds == ()  # type: ignore[union-attr]


def test_only_a_successful_payment_with_something_left_can_be_refunded(
    refunds: RefundRepository,
    repo: PaymentRepository,
    new_payment: Callable[..., Any],
    paid: Callable[..., Any],
) -> None:
    new_payment("order-new")
    with pytest.raises(PaymentConflict) as not_paid:
        refunds.claim("order-new", "r-1", None, None)
    assert not_paid.value.code == "payment_not_refundable"
    # An omitted amount is everything still refundable; after it, nothing is left
    paid()
    whole = refunds.claim("order-1001", "r-2", None, None)
    assert whole.refund.amount == Decimal("250.50") and whole.payment.refundable_amount == 0
    with pytest.raises(PaymentConflict) as nothing_left:
        refunds.claim("order-1001", "r-3", Decimal("1"), None)
    assert nothing_left.value.code == "payment_not_refundable"
    with pytest.raises(PaymentNotFound):
        refunds.claim("order-none", "r-4", None, None)


class _OneCallAtATime:
    """A boto3 client whose calls each run alone, as each DynamoDB request is atomic.

    In-process moto is not thread-safe (concurrent calls on one item can fail inside moto itself), so its
    calls are serialized; the threads still interleave between calls, where a read-decide-write race lives.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def test_concurrent_refunds_never_exceed_the_payment(
    refunds: RefundRepository, paid: Callable[..., Any], store: PaymentStore, clock: Clock
) -> None:
    # Given a paid payment of 250.50 and 10 concurrent partial refunds of 40.00 each (400.00 together)
    paid()
    if isinstance(store, DynamoDBPaymentStore):
        refunds = RefundRepository(
            DynamoDBPaymentStore("PaymentsTable", client=_OneCallAtATime(store._client)), clock=clock
        )
    results: list[str] = []

    def claim(index: int) -> None:
        try:
            refunds.claim("order-1001", f"r-{index}", Decimal("40.00"), None)
            results.append("claimed")
        except InvalidRequest as exc:
            results.append(exc.code)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(claim, range(10)))
    # Then exactly six fit (240.00) and the reserved total never exceeds the payment
    record = refunds.get("order-1001")
    assert record is not None
    assert results.count("claimed") == 6 and results.count("amount_exceeds_refundable") == 4
    assert record.refund_reserved == Decimal("240.00") <= record.amount
    assert len(record.refunds) == 6 and record.refundable_amount == Decimal("10.50")


def test_refund_statuses_move_only_forward_with_one_event_each(
    refunds: RefundRepository, paid: Callable[..., Any], raw_item: Any
) -> None:
    paid()
    refunds.claim("order-1001", "r-1", Decimal("100.00"), None)
    # The gateway accepts it (PENDING): Refund Requested, once
    accepted = refunds.apply_status(
        "order-1001", "r-1", "PENDING", source="create", pay1st_refund_reference="R-1"
    )
    assert accepted.applied and [e.detail_type for e in accepted.events] == ["Refund Requested"]
    assert accepted.refund.pay1st_refund_reference == "R-1"
    # PROCESSING, SUCCESSFUL; then a late PENDING and a repeated SUCCESSFUL change nothing
    assert refunds.apply_status("order-1001", "r-1", "PROCESSING", source="webhook").events == ()
    done = refunds.apply_status("order-1001", "r-1", "SUCCESSFUL", source="webhook")
    assert [e.detail_type for e in done.events] == ["Refund Succeeded"]
    assert done.events[0].event_id == "order-1001:refund:r-1:succeeded"
    assert refunds.apply_status("order-1001", "r-1", "PENDING", source="webhook").verdict is Verdict.STALE
    assert refunds.apply_status("order-1001", "r-1", "SUCCESSFUL", source="webhook").verdict is Verdict.SAME
    assert refunds.apply_status("order-1001", "r-1", "FAILED", source="webhook").verdict is Verdict.CONFLICT
    record = done.payment
    assert (record.refunded_amount, record.refund_reserved) == (Decimal("100.00"), Decimal("100.00"))
    assert _outbox_types(raw_item("order-1001")) == [
        "Payment Succeeded",
        "Refund Requested",
        "Refund Succeeded",
    ]
    assert "refundOpenMarker" not in raw_item("order-1001")  # nothing open any more


@pytest.mark.parametrize(("status", "handling"), [("FAILED", None), ("PENDING", "NO_REFUND")])
def test_a_failed_or_rejected_refund_gives_its_amount_back(
    refunds: RefundRepository, paid: Callable[..., Any], status: str, handling: str | None
) -> None:
    paid()
    refunds.claim("order-1001", "r-1", None, None)
    transition = refunds.apply_status("order-1001", "r-1", status, source="create", handling_type=handling)
    # NO_REFUND: the payment method cannot be refunded, so the refund is REJECTED at once
    assert transition.refund.status == ("REJECTED" if handling else "FAILED")
    assert [e.detail_type for e in transition.events] == ["Refund Requested", "Refund Failed"]
    assert transition.events[1].detail["status"] == transition.refund.status
    assert transition.payment.refund_reserved == 0 and transition.payment.refundable_amount == Decimal(
        "250.50"
    )


def test_a_refused_refund_is_released_with_its_reference(
    refunds: RefundRepository, paid: Callable[..., Any]
) -> None:
    paid()
    claim = refunds.claim("order-1001", "r-1", Decimal("10.00"), None)
    refunds.release("order-1001", claim.refund)
    record = refunds.get("order-1001")
    assert record is not None and record.refunds == () and record.refund_reserved == 0
    assert refunds.owner("r-1") is None
    assert refunds.claim("order-1001", "r-1", Decimal("20.00"), None).created  # usable again


def test_an_unknown_outcome_is_kept_and_refunds_open_too_long_are_found(
    refunds: RefundRepository, paid: Callable[..., Any], clock: Clock
) -> None:
    paid()
    refunds.claim("order-1001", "r-1", Decimal("10.00"), None)
    refunds.mark_unknown("order-1001", "r-1")
    record = refunds.get("order-1001")
    assert record is not None and record.refund("r-1").status == "CREATE_UNKNOWN"  # type: ignore[union-attr]
    assert record.refund_reserved == Decimal("10.00")  # still counts against the payment
    assert refunds.open_too_long(older_than=clock(), limit=10) == []
    clock.advance(3600)
    assert [r.partner_reference for r in refunds.open_too_long(older_than=clock(), limit=10)] == [
        "order-1001"
    ]


def test_a_reversal_is_recorded_once_and_ends_refunds_and_fulfilment(
    refunds: RefundRepository, repo: PaymentRepository, paid: Callable[..., Any]
) -> None:
    record = paid()
    after, event = refunds.record_reversal(record, "CHARGEBACK", source="webhook")
    assert (
        event is not None
        and event.detail_type == "Payment Charged Back"
        and event.event_id == "order-1001:CHARGEBACK"
    )
    assert after.status == "SUCCESSFUL" and set(after.reversals) == {"CHARGEBACK"}
    assert refunds.record_reversal(after, "CHARGEBACK", source="webhook")[1] is None
    with pytest.raises(PaymentConflict):
        refunds.claim("order-1001", "r-1", None, None)
    with pytest.raises(PaymentConflict):
        repo.record_fulfilment(
            "order-1001",
            [FulfilmentItem(sku="GEM-500", quantity=1, fulfilment_time=datetime(2026, 1, 15, tzinfo=UTC))],
        )


# ------------------------------------------------------------------------------ operators (pay1st_ops)


def test_payments_by_status_are_found_by_creation_time_oldest_first(
    store: PaymentStore, repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    # Given three payments created a minute apart, one of them FAILED, and a refund pointer item
    for name in ("a", "b", "c"):
        new_payment(name)
        clock.advance(60)
    repo.apply_status("b", "FAILED", source="webhook")
    store.claim_refund_reference("r-1", "a")
    # When operators look for NEW ones, and for NEW ones created before the last one
    found = store.by_status("NEW")
    older = store.by_status("NEW", created_before="2026-01-15T10:32:00.000Z")
    # Then they get the open ones oldest first, with what the report reads, and the time window holds
    assert [item["partnerReference"] for item in found] == ["a", "c"]
    assert found[0]["reference"] == "C-a-P" and found[0]["createdAt"] == "2026-01-15T10:30:00.000Z"
    assert [item["partnerReference"] for item in older] == ["a"]
    assert [
        item["partnerReference"] for item in store.by_status("NEW", created_after=found[0]["createdAt"])
    ] == ["c"]
    assert [item["partnerReference"] for item in store.by_status("FAILED")] == ["b"]
    assert [item["partnerReference"] for item in store.by_status("NEW", limit=1)] == ["a"]


def test_the_audit_trail_is_appended_in_order_and_bounded(
    store: PaymentStore, new_payment: Callable[..., Any]
) -> None:
    # Given a payment
    new_payment()
    # When operators act on it four times, keeping three entries
    for number in range(4):
        assert store.add_audit("order-1001", {"action": f"act-{number}", "who": "arn:me"}, keep=3)
    # Then the newest three are kept oldest first, and the payment itself is untouched
    item = store.item("order-1001")
    assert item is not None
    assert [entry["action"] for entry in item["audit"]] == ["act-1", "act-2", "act-3"]
    assert int(item["auditCount"]) == 4 and item["status"] == "NEW"
    # And there is no audit without a payment
    assert store.add_audit("order-404", {"action": "x"}, keep=3) is False
    assert store.item("order-404") is None


def test_concurrent_audit_entries_are_never_lost(
    store: PaymentStore, new_payment: Callable[..., Any]
) -> None:
    new_payment()
    if isinstance(store, DynamoDBPaymentStore):  # moto's conditional writes are atomic one call at a time
        store = DynamoDBPaymentStore("PaymentsTable", client=_OneCallAtATime(store._client))
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: store.add_audit("order-1001", {"action": f"a{n}"}, keep=50), range(4)))
    item = store.item("order-1001")
    assert item is not None and sorted(entry["action"] for entry in item["audit"]) == ["a0", "a1", "a2", "a3"]


# ---------------------------------------------------------------------------- check schedule, shards, upgrade


def test_due_payments_follow_the_check_schedule_most_overdue_first(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    # Given three payments created 10 s apart, one of them already final
    for name in ("a", "b", "c"):
        new_payment(name)
        clock.advance(10)
    repo.apply_status("b", "FAILED", source="webhook")
    # Then none is due before its first minute, and then the open ones are, the most overdue first
    assert repo.due_payments(now=clock(), limit=10) == []
    clock.advance(35)  # a and c are 65 s and 45 s old
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["a"]
    clock.advance(20)
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["a", "c"]
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=1)] == ["a"]
    assert "nextCheckAt" not in raw_item("b") and "openMarker" not in raw_item("b")
    # And a check moves a payment to its next point: 2 minutes after it was created
    checked = repo.note_check(repo.get("a"))  # type: ignore[arg-type]
    assert checked is not None and checked.last_checked_at == "2026-01-15T10:31:25.000Z"
    assert raw_item("a")["nextCheckAt"] == {"S": "2026-01-15T10:32:00.000Z"}
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["c"]


def test_due_payments_read_on_from_where_a_page_ended(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    # Given three open payments due 10 s apart
    for name in ("a", "b", "c"):
        new_payment(name)
        clock.advance(10)
    clock.advance(60)
    first = repo.due_payments(now=clock(), limit=2)
    assert [r.partner_reference for r in first] == ["a", "b"] and first[-1].next_check_at is not None
    # When the next read starts at the last one read: it is read again (same instant), then the rest
    after = repo.due_payments(now=clock(), limit=10, due_from=first[-1].next_check_at)
    assert [r.partner_reference for r in after] == ["b", "c"]
    # And none is due from a point after all of them, nor at the read's own instant (due before it, not at it)
    late = repo.due_payments(now=clock(), limit=10, due_from=after[-1].next_check_at + "~")
    assert late == [] and repo.due_payments(now=clock(), limit=10, due_from="9999") == []


def test_a_check_of_a_payment_that_settled_meanwhile_does_not_reopen_it(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    # Given a payment read while open, then settled by a webhook
    before = new_payment()
    repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    clock.advance(5)
    settled = raw_item("order-1001")
    # When a check made on the stale read is noted
    after = repo.note_check(before)
    # Then the check is noted, and the payment is not put back on the schedule: it stays on the watch list as
    # the SUCCESSFUL transition left it (keys unchanged), which only its delivered fulfilment ends
    assert after is not None and after.status == "SUCCESSFUL" and after.last_checked_at is not None
    item = raw_item("order-1001")
    assert (item["openMarker"], item["nextCheckAt"]) == (settled["openMarker"], settled["nextCheckAt"])


def test_markers_are_spread_over_shards_and_readers_merge_every_shard(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    # Given 24 open payments created a second apart, each with an event still in its outbox
    names = [f"order-{n:02d}" for n in range(24)]
    for name in names:
        new_payment(name)
        repo.apply_status(name, "PENDING", source="webhook")
        clock.advance(1)
    clock.advance(120)
    # Then their markers are sharded over every shard, never the one constant
    markers = {raw_item(name)["openMarker"]["S"] for name in names}
    assert markers == {f"OPEN#{n}" for n in range(8)}
    assert {raw_item(name)["outboxMarker"]["S"] for name in names} == {f"PENDING#{n}" for n in range(8)}
    # And the readers find all of them, merged in time order across the shards
    assert [r.partner_reference for r in repo.open_payments(older_than=clock(), limit=100)] == names
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=100)] == names
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=5)] == names[:5]
    events = repo.pending_events(older_than=clock(), limit=100)
    assert sorted({e.partner_reference for e in events}) == names and len(events) == 24


class _ShortPages:
    """The DynamoDB client, with every query page ending after one item (as DynamoDB ends one at 1 MB)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def query(self, **kwargs: Any) -> Any:
        return self._client.query(**{**kwargs, "Limit": 1})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_index_readers_read_on_when_dynamodb_ends_a_page_before_the_limit(aws: Any, clock: Clock) -> None:
    # Given 12 open payments, more than one on some of the 8 shards, and pages that end after one item
    repo = PaymentRepository(
        DynamoDBPaymentStore("PaymentsTable", client=_ShortPages(aws.dynamodb)), clock=clock
    )
    names = [f"order-{n:02d}" for n in range(12)]
    for name in names:
        request = payment_request(name)
        repo.claim(request, fingerprint(request), None)
        repo.mark_created(name, created_payment(request, f"C-{name}-P"))
        clock.advance(1)
    clock.advance(120)
    # When the readers ask for more than there are, Then they find every one (a short page is not the end)
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=100)] == names
    assert [r.partner_reference for r in repo.open_payments(older_than=clock(), limit=100)] == names


def test_open_refund_markers_are_sharded_and_the_reader_merges_every_shard(
    store: PaymentStore,
    refunds: RefundRepository,
    paid: Callable[..., Any],
    clock: Clock,
    raw_item: Any,
) -> None:
    # Given 24 paid payments, each with a refund opened a second after the previous one
    names = [f"order-{n:02d}" for n in range(24)]
    for name in names:
        paid(name)
        refunds.claim(name, f"r-{name}", Decimal("10.00"), None)
        clock.advance(1)
    # Then their refund markers are spread over every shard
    assert {raw_item(name)["refundOpenMarker"]["S"] for name in names} == {f"OPEN#{n}" for n in range(8)}
    # And the reader finds all of them, oldest first across the shards, and a limit keeps the oldest
    later = isoformat(clock() + timedelta(seconds=1))
    assert [r.partner_reference for r in store.open_refund_payments(older_than=later, limit=100)] == names
    assert [r.partner_reference for r in store.open_refund_payments(older_than=later, limit=5)] == names[:5]


def _legacy_item(name: str, at: str) -> dict[str, Any]:
    """A payment as the release before sharding wrote it: unsharded markers, no nextCheckAt."""
    request = payment_request(name)
    item = claim_item(request, fingerprint(request), None, at)
    item.update(reference=f"C-{name}-P", status="PENDING", openMarker="OPEN", outboxMarker="PENDING")
    item["outboxSince"] = at
    return item


def test_items_written_before_sharding_are_still_found_and_move_to_a_shard_on_their_next_write(
    store: PaymentStore, repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    # Given a payment from the old release (marker "OPEN", an event pending under "PENDING", a refund open
    # under "OPEN") and one written now
    legacy = _legacy_item("order-old", "2026-01-15T10:00:00.000Z")
    event = payment_event(record_from_item(legacy), "PENDING", reference="C-order-old-P", occurred_at="x")
    assert event is not None
    legacy["outbox"] = {event.event_id: event.to_json()}
    legacy.update(refundOpenMarker="OPEN", refundOpenSince="2026-01-15T10:00:00.000Z")
    assert store.put_claim(legacy)
    new_payment("order-new")
    clock.advance(120)
    # Then the pendingEvents and openRefunds readers still find the old one; the watch list, keyed on
    # nextCheckAt, never held it: the upgrade (CHANGELOG.md, multi-step) checks that no such item is left first
    # (the duePayments release's poller moved every one to a shard within minutes, as below)
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["order-new"]
    assert [r.partner_reference for r in repo.open_payments(older_than=clock(), limit=10)] == ["order-new"]
    assert [e.event_id for e in repo.pending_events(older_than=clock(), limit=10)] == ["order-old:PENDING"]
    old_refunds = store.open_refund_payments(older_than="2026-01-15T11:00:00.000Z", limit=10)
    assert [r.partner_reference for r in old_refunds] == ["order-old"]
    # And its first check moves it to its shard, on the schedule (every 80 s by now, half an hour old), out of the
    # legacy partition
    repo.note_check(repo.get("order-old"))  # type: ignore[arg-type]
    item = raw_item("order-old")
    assert item["openMarker"] == {"S": sharded("OPEN", "order-old")}
    assert item["nextCheckAt"] == {"S": "2026-01-15T10:33:20.000Z"}
    assert [r.partner_reference for r in repo.due_payments(now=clock(), limit=10)] == ["order-new"]
    # And clearing its event drops the legacy outbox marker as before
    repo.clear_event("order-old", "order-old:PENDING")
    assert "outboxMarker" not in raw_item("order-old")


def test_give_up_moves_an_open_payment_off_the_schedule_and_a_final_status_clears_it(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock, raw_item: Any
) -> None:
    new_payment()
    clock.advance(3600)
    given_up = repo.give_up("order-1001")
    assert given_up is not None and repo.give_up("order-1001") is None  # once
    item = raw_item("order-1001")
    assert item["openMarker"] == {"S": "GAVEUP#1"} and item["gaveUpAt"] == {"S": "2026-01-15T11:30:00.000Z"}
    assert repo.due_payments(now=clock() + timedelta(days=7), limit=10) == []
    assert [r.partner_reference for r in repo.gave_up_payments(limit=10)] == ["order-1001"]
    # A later check (a status GET, a webhook's confirmation) that finds it still open notes the check but
    # does not put it back on the schedule
    checked = repo.note_check(given_up)
    assert checked is not None and checked.partner_reference == "order-1001"
    assert raw_item("order-1001")["openMarker"] == {"S": "GAVEUP#1"}
    assert repo.due_payments(now=clock() + timedelta(days=7), limit=10) == []
    assert [r.partner_reference for r in repo.gave_up_payments(limit=10)] == ["order-1001"]
    # A late webhook still settles it, and then it is no longer given up: on the watch list until its
    # fulfilment is delivered, and then nowhere
    repo.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    assert repo.gave_up_payments(limit=10) == [] and raw_item("order-1001")["openMarker"] == {"S": "OPEN#1"}
    repo.record_fulfilment("order-1001", [FulfilmentItem("GEM-500", 1, clock())])
    repo.mark_fulfilment_delivered("order-1001")  # its event still waits: it stays for the poller
    assert raw_item("order-1001")["openMarker"] == {"S": "OPEN#1"}
    assert repo.unwatch("order-1001") is False
    repo.clear_event("order-1001", "order-1001:SUCCESSFUL")  # published
    assert repo.unwatch("order-1001") is True and repo.unwatch("order-1001") is False
    assert "openMarker" not in raw_item("order-1001") and "nextCheckAt" not in raw_item("order-1001")


# ---------------------------------------------------------------------------- attempts


def _unknown_payment(repo: PaymentRepository, partner_reference: str = "order-1001") -> Any:
    request = payment_request(partner_reference)
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown(partner_reference)
    record = repo.get(partner_reference)
    assert record is not None and record.status == "CREATE_UNKNOWN"
    return record


def test_a_new_attempt_supersedes_the_unknown_one_once(repo: PaymentRepository, raw_item: Any) -> None:
    # Given a payment whose create outcome is unknown
    record = _unknown_payment(repo)
    attempts = repo.attempts()
    # When two repeats both try to start the next attempt from what they read
    started = attempts.start_next(record, reason="duplicate_refused")
    lost = attempts.start_next(record, reason="duplicate_refused")
    # Then exactly one wins: CREATING again, under the derived reference, the old attempt kept
    assert started is not None and lost is None
    assert started.status == "CREATING" and started.gateway_reference == "order-1001..2"
    assert [entry["partnerReference"] for entry in started.attempts] == ["order-1001"]
    item = raw_item("order-1001")
    assert item["attemptReference"] == {"S": "order-1001..2"}
    assert "openMarker" not in item  # no Pay1st reference yet: nothing for the poller to query
    # And both references of the payment find it; a derived reference it never made finds nothing
    assert attempts.find("order-1001..2") == (started, "order-1001..2")
    assert attempts.find("order-1001") == (started, "order-1001")
    assert attempts.find("order-1001..3") is None
    # And created under the new attempt, the payment keeps its attempts
    created = repo.mark_created("order-1001", created_payment(payment_request("order-1001..2")))
    assert created.status == "NEW" and created.attempts == started.attempts


def test_a_superseded_attempt_paid_pays_the_open_payment_and_a_second_one_is_flagged(
    repo: PaymentRepository, raw_item: Any
) -> None:
    # Given a payment that moved on to its second attempt (NEW at Pay1st)
    record = _unknown_payment(repo)
    started = repo.attempts().start_next(record, reason="duplicate_refused")
    assert started is not None
    current = repo.mark_created("order-1001", created_payment(payment_request("order-1001..2"), "C-2"))
    # When the first attempt is confirmed paid
    outcome, paid, event = repo.attempts().paid(current, "order-1001", "C-1")
    # Then the payment is SUCCESSFUL by that attempt, with its event in the outbox
    assert outcome == "applied" and paid.status == "SUCCESSFUL"
    assert (paid.reference, paid.gateway_reference) == ("C-1", "order-1001")
    assert event is not None and event.detail["supersededAttempts"] == ["order-1001..2"]
    assert event.event_id in paid.pending_event_ids
    assert "openMarker" not in raw_item("order-1001") and not paid.double_paid
    # When the second attempt is confirmed paid too
    outcome, twice, event = repo.attempts().paid(paid, "order-1001..2", "C-2")
    # Then both were paid: flagged on the payment and announced, the status unchanged
    assert outcome == "double_paid" and twice.double_paid and twice.status == "SUCCESSFUL"
    assert event is not None and event.detail_type == "Payment Paid Twice"
    assert raw_item("order-1001")["doublePaid"] == {"BOOL": True}
    # And the same report again changes nothing
    assert repo.attempts().paid(twice, "order-1001..2", "C-2")[0] == "duplicate"


def test_the_memory_stores_clone_copies_containers_and_shares_only_immutable_leaves() -> None:
    """Given an item with nested dicts and lists, Decimal, None and a set, When it is cloned, Then changing
    the clone's containers (a set too, copied by copy.deepcopy) leaves the original as it was."""
    from decimal import Decimal

    from pay1st_partner.store.items import clone

    original = {"a": {"b": [1, {"c": Decimal("1.50")}]}, "n": None, "tags": {"x"}, "t": (1, [2])}
    copied = clone(original)
    assert copied == original
    copied["a"]["b"][1]["c"] = Decimal(0)
    copied["a"]["b"].append(2)
    copied["tags"].add("y")
    copied["t"][1].append(3)
    assert original == {"a": {"b": [1, {"c": Decimal("1.50")}]}, "n": None, "tags": {"x"}, "t": (1, [2])}


def test_a_record_shares_no_dict_or_list_with_the_item_it_was_read_from() -> None:
    """Given a stored item with every nested part a record keeps (the memory store maps the item it holds, without
    a copy of the whole), When it is mapped to a record, Then no dict or list the record reaches is the item's:
    a caller changing what it read cannot change the store."""
    import dataclasses
    from decimal import Decimal

    from pay1st_partner.store.items import record_from_item

    at = "2026-01-15T10:30:00.000Z"
    item = {
        "partnerReference": "order-1", "reference": "C-1", "status": "SUCCESSFUL", "amount": Decimal("10.00"),
        "currencyCode": "ZAR", "countryCode": "ZA", "createdAt": at, "updatedAt": at, "nextCheckAt": at,
        "products": [{"title": "Gems", "sku": "g", "price": "10.00", "quantity": 1, "currencyCode": "ZAR"}],
        "metadata": [{"key": "k", "value": "v"}],
        "fulfilment": {"items": [{"sku": "g", "quantity": 1}], "attempts": [{"at": at, "error": {"code": 1}}]},
        "conflicts": [{"status": "FAILED", "recordedStatus": "SUCCESSFUL", "at": at, "source": "webhook"}],
        "reversals": {"REFUND": {"at": at, "amounts": [1]}},
        "statusQueries": {"a": {"at": at, "by": ["poller"]}},
        "attempts": [{"partnerReference": "order-1..2", "supersededAt": at, "reason": {"why": "x"}}],
        "step": {"status": "OTP", "at": at, "during": "PENDING"},
        "stepsTold": {"OTP": at},
        "owed": {"C-2": {"attemptReference": "order-1..2", "reported": "SUCCESSFUL", "since": at}},
        "refunds": {"r-1": {"refundReference": "r-1", "amount": "1.00", "currencyCode": "ZAR",
                            "status": "PENDING", "createdAt": at, "updatedAt": at}},
    }  # fmt: skip

    def containers(value: object) -> list[object]:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return [c for f in dataclasses.fields(value) for c in containers(getattr(value, f.name))]
        if isinstance(value, dict):
            return [value, *(c for inner in value.values() for c in containers(inner))]
        if isinstance(value, (list, tuple)):
            return (
                [value, *(c for inner in value for c in containers(inner))]
                if isinstance(value, list)
                else [c for inner in value for c in containers(inner)]
            )
        return []

    stored = {id(c) for c in containers(item)}
    record = record_from_item(item)
    assert record.fulfilment and record.status_queries and record.attempts and record.owed and record.refunds
    assert record.next_check_at == at
    assert [c for c in containers(record) if id(c) in stored] == []


def test_two_earlier_attempts_confirmed_paid_at_once_on_a_closed_payment_are_both_kept_and_flagged(
    repo: PaymentRepository,
) -> None:
    """Given a payment FAILED on its third attempt, read once by two webhook runs,
    When each confirms one of the two earlier attempts paid from that same read,
    Then the second write is refused (the list changed since it was read) and nothing is erased; decided again on
    a fresh read it is a payment paid twice with both attempts paid. The write held only on status, attempt and
    reference, none of which changes on a closed payment: both answered "paid after close" and the second
    erased the first's paidAt (found in review)."""
    record = _unknown_payment(repo)
    started = repo.attempts().start_next(record, reason="duplicate_refused")
    assert started is not None
    repo.mark_outcome_unknown("order-1001")
    again = repo.get("order-1001")
    assert again is not None and repo.attempts().start_next(again, reason="duplicate_refused") is not None
    created = repo.mark_created("order-1001", created_payment(payment_request("order-1001..3"), "C-3"))
    closed = repo.apply_status(
        "order-1001", "FAILED", source="webhook", reference="C-3", current=created
    ).record
    assert closed.status == "FAILED"
    first = repo.attempts().paid(closed, "order-1001", "C-1")
    second = repo.attempts().paid(closed, "order-1001..2", "C-2")
    assert (first[0], second[0]) == ("paid_after_close", "stale")
    fresh = repo.get("order-1001")
    assert fresh is not None
    assert repo.attempts().paid(fresh, "order-1001..2", "C-2")[0] == "double_paid"
    after = repo.get("order-1001")
    assert after is not None and after.double_paid and after.status == "FAILED"
    assert all(entry.get("paidAt") for entry in after.attempts)
