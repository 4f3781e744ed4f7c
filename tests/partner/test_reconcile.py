"""Reconciler: the gateway's §9 answer is applied only when it describes our payment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pay1st.errors import GatewayServerError, OutcomeUnknownError
from pay1st_partner.errors import PaymentNotFound
from pay1st_partner.events import EventPublisher
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.payments.status_route import current_payment, is_stale
from pay1st_partner.payments.views import payment_view

from tests.partner.helpers import Clock, FakeGateway, payment_request


def test_refresh_applies_the_gateway_status_and_publishes(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    aws: Any,
) -> None:
    # Given a NEW payment that the gateway knows as SUCCESSFUL
    record = new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL")
    # When it is refreshed
    outcome = reconciler.refresh(record, source="poller")
    # Then it is SUCCESSFUL, and the event went out and left the outbox
    assert outcome.outcome == "applied" and outcome.record.status == "SUCCESSFUL"
    assert gateway.queries == ["C-order-1001-P"]
    assert [e["detail"]["eventId"] for e in aws.published_events()] == ["order-1001:SUCCESSFUL"]
    assert repo.get("order-1001").pending_event_ids == ()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"amount": "250.49"}, "amount_mismatch"),
        ({"currency": "NGN"}, "amount_mismatch"),
        ({"partner_reference": "someone-else"}, "reference_mismatch"),
    ],
)
def test_an_answer_about_something_else_is_not_applied(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    changes: dict[str, str],
    expected: str,
) -> None:
    record = new_payment()
    gateway.set("C-order-1001-P", "SUCCESSFUL", **changes)
    clock.advance(10)
    outcome = reconciler.refresh(record, source="poller")
    assert outcome.outcome == expected and outcome.gateway_status == "SUCCESSFUL"
    after = repo.get("order-1001")
    assert after is not None and after.status == "NEW"
    assert after.last_checked_at == "2026-01-15T10:30:10.000Z"


def test_the_same_amount_written_differently_matches(
    reconciler: Reconciler, gateway: FakeGateway, new_payment: Callable[..., Any]
) -> None:
    record = new_payment()
    gateway.set("C-order-1001-P", "PENDING", amount="250.5")
    assert reconciler.refresh(record, source="poller").record.status == "PENDING"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OutcomeUnknownError("read timeout"), "gateway_unavailable"),
        (GatewayServerError(503, "DOWN", None, "s-1"), "gateway_unavailable"),
    ],
)
def test_gateway_trouble_is_an_outcome_not_an_exception(
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    error: Exception,
    expected: str,
) -> None:
    record = new_payment()
    gateway.error = error
    outcome = reconciler.refresh(record, source="poller")
    assert outcome.outcome == expected and outcome.record.status == "NEW"


def test_unknown_reference_at_the_gateway_is_rejected(
    reconciler: Reconciler, new_payment: Callable[..., Any]
) -> None:
    assert reconciler.refresh(new_payment(), source="poller").outcome == "gateway_rejected"


def test_unchanged_status_only_notes_the_check(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    record = new_payment()
    gateway.set("C-order-1001-P", "NEW")
    clock.advance(5)
    outcome = reconciler.refresh(record, source="poller")
    assert outcome.outcome == "duplicate"
    assert repo.get("order-1001").last_checked_at == "2026-01-15T10:30:05.000Z"  # type: ignore[union-attr]


def test_a_payment_with_no_reference_cannot_be_refreshed_without_one(
    repo: PaymentRepository, reconciler: Reconciler, gateway: FakeGateway
) -> None:
    request = payment_request()
    claim = repo.claim(request, fingerprint(request), None)
    assert reconciler.refresh(claim.record, source="poller").outcome == "no_reference"
    assert gateway.queries == []
    # ... but with the reference a webhook brought, the gateway's answer adopts it
    repo.mark_outcome_unknown("order-1001")
    gateway.set("C-9-P", "PENDING")
    outcome = reconciler.refresh(claim.record, source="webhook", reference="C-9-P")
    assert outcome.outcome == "applied"
    assert outcome.record.reference == "C-9-P" and outcome.record.status == "PENDING"


# ------------------------------------------------------------------------- the status route's use case


def test_current_payment_refreshes_only_when_open_and_stale(
    repo: PaymentRepository,
    reconciler: Reconciler,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    # Given a NEW payment the gateway knows as PENDING
    new_payment()
    gateway.set("C-order-1001-P", "PENDING")
    kwargs: dict[str, Any] = {"payments": repo, "reconciler": reconciler, "stale_after": 30, "clock": clock}
    # When it is read while fresh, then after 30 s
    fresh = current_payment("order-1001", **kwargs)
    clock.advance(30)
    stale = current_payment("order-1001", **kwargs)
    # Then only the stale read asked the gateway
    assert fresh.status == "NEW" and stale.status == "PENDING"
    assert gateway.queries == ["C-order-1001-P"]
    with pytest.raises(PaymentNotFound):
        current_payment("nope", **kwargs)


def test_current_payment_answers_the_first_read_when_the_store_throttles_the_refresh_and_the_reread(
    repo: PaymentRepository,
    gateway: FakeGateway,
    publisher: EventPublisher,
    new_payment: Callable[..., Any],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a stale open payment and DynamoDB throttling both the query slot's claim and the read after it,
    when the status route's use case runs, then it answers the payment as first read (no error, no query)."""
    from botocore.exceptions import ClientError

    new_payment()
    clock.advance(30)
    first = repo.get("order-1001")
    error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}
    reads = iter([first])

    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    def read_once(_: str) -> Any:
        record = next(reads, None)
        if record is None:
            raise ClientError(error, "GetItem")  # type: ignore[arg-type]
        return record

    monkeypatch.setattr(repo, "claim_status_query", throttled)
    monkeypatch.setattr(repo, "get", read_once)
    rationed = Reconciler(repo, gateway, publisher, min_query_interval=15.0)
    answer = current_payment("order-1001", payments=repo, reconciler=rationed, stale_after=30, clock=clock)
    assert answer == first and gateway.queries == []


def test_is_stale_never_for_final_or_unreferenced(
    repo: PaymentRepository, new_payment: Callable[..., Any], clock: Clock
) -> None:
    record = repo.apply_status(new_payment().partner_reference, "FAILED", source="webhook").record
    assert not is_stale(record, now=clock() + timedelta(days=1), stale_after=30)


def test_payment_view_is_partner_facing(repo: PaymentRepository, new_payment: Callable[..., Any]) -> None:
    view = payment_view(new_payment())
    assert view == {
        "partnerReference": "order-1001",
        "reference": "C-order-1001-P",
        "status": "NEW",
        "amount": "250.50",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "createdAt": "2026-01-15T10:30:00.000Z",
        "updatedAt": "2026-01-15T10:30:00.000Z",
        "lastCheckedAt": None,
    }
