"""The scheduled status poller: the real handler on moto, querying the Pay1st sandbox over HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pay1st_partner import runtime
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

from tests.conftest import FakeLambdaContext, counting_aws_calls
from tests.functions.inbound import STATUS_QUERY_ROUTE, create_at_sandbox, route_count

# An EventBridge scheduled event, as `sam local generate-event eventbridge scheduled-event` makes it.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-15T10:30:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/pay1st-status-poller"],
    "detail": {},
}


def poll(context: Any = None) -> dict[str, Any]:
    from functions.status_poller import app

    result: dict[str, Any] = app.lambda_handler(SCHEDULED_EVENT, context or FakeLambdaContext())
    return result


@pytest.fixture
def fast_schedule(monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    # Runs follow each other within milliseconds here: the check schedule and the per-payment query
    # interval on the same scale (a payment is due 10 ms after it was created, then every 10 ms).
    monkeypatch.setenv("CHECK_SCHEDULE_SECONDS", "0.01")
    monkeypatch.setenv("STATUS_QUERY_MIN_INTERVAL_SECONDS", "0.01")
    runtime.reset()


def test_lost_webhooks_are_caught_and_expired_payments_closed(
    aws: Any, sandbox: Any, fast_schedule: None
) -> None:
    # Given three payments whose webhooks are all lost: one paid, one abandoned, one still open
    sandbox.control.set_faults(webhook_drop_rate=1.0)
    paid = create_at_sandbox("order-paid")
    abandoned = create_at_sandbox("order-abandoned")
    create_at_sandbox("order-open")
    sandbox.control.settle(paid.reference, "pay")
    sandbox.control.settle(abandoned.reference, "abandon")
    time.sleep(0.05)
    # When the poller runs
    report = poll()
    # Then each open payment was queried once and what the gateway said was applied and announced
    assert report["checked"] == 3
    assert report["outcomes"] == {"applied": 2, "duplicate": 1}
    payments = runtime.payments()
    assert payments.get("order-paid").status == "SUCCESSFUL"  # type: ignore[union-attr]
    assert payments.get("order-abandoned").status == "ABANDONED"  # type: ignore[union-attr]
    assert payments.get("order-open").status == "NEW"  # type: ignore[union-attr]
    assert sorted(e["detail-type"] for e in aws.published_events()) == [
        "Payment Abandoned",
        "Payment Succeeded",
    ]
    # And the next run only looks at the payment that is still open
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    time.sleep(0.05)
    assert poll()["checked"] == 1
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries + 1


def test_young_payments_are_left_alone(aws: Any, sandbox: Any) -> None:
    create_at_sandbox("order-young")
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    assert poll()["checked"] == 0  # first due a minute after it was created (CHECK_SCHEDULE_SECONDS)
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries


def test_work_per_run_is_bounded_by_time_not_by_the_batch_size(
    aws: Any, sandbox: Any, fast_schedule: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_BATCH_SIZE", "2")
    runtime.reset()
    for index in range(3):
        create_at_sandbox(f"order-{index}")
    time.sleep(0.05)
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    assert poll()["checked"] == 3  # pages of two, until nothing is due
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries + 3


def test_a_run_with_too_little_time_left_checks_nothing(aws: Any, sandbox: Any, fast_schedule: None) -> None:
    create_at_sandbox("order-late")
    time.sleep(0.05)
    report = poll(FakeLambdaContext(timeout_seconds=3))
    assert report["checked"] == 0 and report["skippedForTime"] == 1


def test_events_lost_between_commit_and_publish_are_republished(aws: Any, sandbox: Any) -> None:
    # Given a transition committed two minutes ago whose publisher died before publishing
    create_at_sandbox("order-crashed")
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    crashed = PaymentRepository(
        DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb), clock=lambda: two_minutes_ago
    )
    assert crashed.apply_status("order-crashed", "FAILED", source="webhook").applied
    assert aws.published_events() == []
    # When the poller runs (twice)
    first = poll()
    second = poll()
    # Then the event went out exactly once, with its stable id
    assert first["republished"] == 1 and second["republished"] == 0
    [event] = aws.published_events()
    assert event["detail-type"] == "Payment Failed" and event["detail"]["eventId"] == "order-crashed:FAILED"


def test_gateway_down_is_survived_and_reported(aws: Any, sandbox: Any, fast_schedule: None) -> None:
    create_at_sandbox("order-down")
    sandbox.control.set_faults(rate_5xx={STATUS_QUERY_ROUTE: 1.0}, server_error_status=503)
    time.sleep(0.05)
    report = poll()
    assert report["outcomes"] == {"gateway_unavailable": 1}
    assert runtime.payments().get("order-down").status == "NEW"  # type: ignore[union-attr]


def test_a_payment_the_poller_confirms_costs_five_aws_calls_beyond_its_index_queries(
    aws: Any, sandbox: Any, fast_schedule: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a warm poller (credentials and token cached) and a paid payment whose webhook was lost
    sandbox.control.set_faults(webhook_drop_rate=1.0)
    poll()
    paid = create_at_sandbox("order-poller-paid")
    sandbox.control.settle(paid.reference, "pay")
    time.sleep(0.05)
    # When the poller confirms it
    with counting_aws_calls(monkeypatch) as calls:
        report = poll()
    # Then the payment is SUCCESSFUL, announced and cleared from the outbox in five calls besides the index
    # queries: the read of the due payment (the watch list holds keys only), the query slot, the transition
    # with its event, the publication, and ONE outbox clear
    assert report["outcomes"] == {"applied": 1}
    record = runtime.payments().get("order-poller-paid")
    assert record is not None and record.status == "SUCCESSFUL" and record.pending_event_ids == ()
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Succeeded"]
    assert [call for call in calls if not call.startswith("dynamodb:Query")] == [
        "dynamodb:GetItem PaymentsTable",  # the due payment, by the key the watch list gave
        "dynamodb:UpdateItem PaymentsTable",  # the query slot
        "dynamodb:UpdateItem PaymentsTable",  # the transition with its event (no webhook receipt to add)
        "events:PutEvents",
        "dynamodb:UpdateItem PaymentsTable",  # the one outbox clear
    ], calls
