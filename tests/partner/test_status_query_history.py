"""Each status query to the gateway is kept on the payment (``statusQueries``, newest 20): who asked, the
answer or the error, the outcome; written by the write that records its answer, on moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pay1st.errors import GatewayServerError, OutcomeUnknownError
from pay1st_partner.events import EventPublisher
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.items import MAX_STATUS_QUERIES

from tests.partner.helpers import Clock, FakeGateway


def queries(repo: PaymentRepository, partner_reference: str = "order-1001") -> list[dict[str, Any]]:
    record = repo.get(partner_reference)
    assert record is not None
    return [dict(query) for query in record.status_queries or ()]


def test_answers_and_errors_are_kept_with_who_asked(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    # Given a NEW payment; the gateway down, then saying PENDING, then SUCCESSFUL, then SUCCESSFUL again
    record = new_payment()
    gateway.error = GatewayServerError(503, "DOWN", None, "s-1")
    assert reconciler.refresh(record, source="poller").outcome == "gateway_unavailable"
    clock.advance(1)
    gateway.error = OutcomeUnknownError("read timeout")
    assert reconciler.refresh(record, source="status").outcome == "gateway_unavailable"
    gateway.error = None
    gateway.set("C-order-1001-P", "PENDING")
    clock.advance(1)
    # (with the payment as read before those two queries: an older read never drops newer entries)
    record = reconciler.refresh(record, source="callback").record
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    clock.advance(1)
    record = reconciler.refresh(record, source="webhook").record
    clock.advance(1)
    assert reconciler.refresh(record, source="operator").outcome == "duplicate"
    # Then each query is on the payment, in order, with its time, asker, answer or error, and outcome
    assert queries(repo) == [
        {
            "at": "2026-01-15T10:30:00.000Z",
            "by": "poller",
            "outcome": "gateway_unavailable",
            "error": "GatewayServerError",
            "httpStatus": 503,
        },
        {
            "at": "2026-01-15T10:30:01.000Z",
            "by": "status",
            "outcome": "gateway_unavailable",
            "error": "OutcomeUnknownError",
        },
        {"at": "2026-01-15T10:30:02.000Z", "by": "callback", "answer": "PENDING", "outcome": "applied"},
        {"at": "2026-01-15T10:30:03.000Z", "by": "webhook", "answer": "SUCCESSFUL", "outcome": "applied"},
        {"at": "2026-01-15T10:30:04.000Z", "by": "operator", "answer": "SUCCESSFUL", "outcome": "duplicate"},
    ]


def test_an_answer_about_another_payment_is_kept_as_refused(
    repo: PaymentRepository, reconciler: Reconciler, gateway: FakeGateway, new_payment: Callable[..., Any]
) -> None:
    record = new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL", amount="1.00")
    reconciler.refresh(record, source="poller")
    [query] = queries(repo)
    assert query["answer"] == "SUCCESSFUL" and query["outcome"] == "amount_mismatch"
    assert repo.get("order-1001").status == "NEW"  # type: ignore[union-attr]


def test_only_the_newest_queries_are_kept(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    record = new_payment()
    gateway.set("C-order-1001-P", "NEW")
    for _ in range(MAX_STATUS_QUERIES + 5):
        clock.advance(60)
        record = reconciler.refresh(record, source="poller").record
    kept = queries(repo)
    assert len(kept) == MAX_STATUS_QUERIES == 20
    assert kept[0]["at"] == "2026-01-15T10:36:00.000Z"  # the first five (10:31 to 10:35) are gone
    assert kept[-1]["at"] == "2026-01-15T10:55:00.000Z"


def test_a_throttled_ask_is_not_a_query(
    repo: PaymentRepository, gateway: FakeGateway, publisher: EventPublisher, new_payment: Callable[..., Any]
) -> None:
    rationed = Reconciler(repo, gateway, publisher, min_query_interval=15)
    record = new_payment()
    gateway.set("C-order-1001-P", "PENDING")
    rationed.refresh(record, source="poller")
    assert rationed.refresh(record, source="status").outcome == "query_throttled"
    assert [query["by"] for query in queries(repo)] == ["poller"]
    assert gateway.queries == ["C-order-1001-P"]


def test_a_payment_stored_before_the_history_gets_one(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    aws: Any,
) -> None:
    new_payment()
    aws.dynamodb.update_item(
        TableName="PaymentsTable",
        Key={"partnerReference": {"S": "order-1001"}},
        UpdateExpression="REMOVE statusQueries",
    )
    legacy = repo.get("order-1001")
    assert legacy is not None and legacy.status_queries is None
    gateway.set("C-order-1001-P", "NEW")
    reconciler.refresh(legacy, source="poller")
    assert [query["outcome"] for query in queries(repo)] == ["duplicate"]
