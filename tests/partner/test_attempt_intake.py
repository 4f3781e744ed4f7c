"""Webhooks of superseded attempts (README "Attempts"), on moto with an in-memory gateway: only a SUCCESSFUL
the gateway confirms, for that attempt, our amount and currency, counts; everything else changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from pay1st.errors import Pay1stConnectionError
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.webhooks.intake import WebhookIntake

from release.event_schemas import by_detail_type
from tests.partner.helpers import (
    Clock,
    FakeGateway,
    created_payment,
    payment_request,
    signed_headers,
    webhook_body,
)
from tests.partner.test_event_schemas import validate


@pytest.fixture
def second_attempt(repo: PaymentRepository) -> Any:
    """A payment whose first attempt's answer was lost, now NEW on its second attempt (Pay1st C-2)."""
    request = payment_request("order-1001")
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("order-1001")
    record = repo.get("order-1001")
    assert record is not None
    assert repo.attempts().start_next(record, reason="duplicate_refused") is not None
    return repo.mark_created("order-1001", created_payment(payment_request("order-1001..2"), "C-2"))


def deliver(intake: WebhookIntake, clock: Clock, status: str, **fields: Any) -> Any:
    body = webhook_body(status, **fields)
    return intake.handle(body, signed_headers(body, at=clock()))


def test_a_first_attempt_reported_paid_but_not_paid_at_the_gateway_changes_nothing(
    intake: WebhookIntake, clock: Clock, gateway: FakeGateway, repo: PaymentRepository, second_attempt: Any
) -> None:
    gateway.set("C-1", "FAILED")
    result = deliver(intake, clock, "SUCCESSFUL", reference="C-1")
    assert (result.outcome, result.status) == ("superseded_attempt", "NEW")
    assert gateway.queries == ["C-1"]
    assert repo.get("order-1001") == second_attempt


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"partner_reference": "someone-else"}, "reference_mismatch"),
        ({"amount": "1.00"}, "amount_mismatch"),
        (None, "gateway_rejected"),  # the gateway does not know the reference
    ],
)
def test_a_confirmation_that_does_not_describe_the_attempt_is_not_applied(
    intake: WebhookIntake,
    clock: Clock,
    gateway: FakeGateway,
    repo: PaymentRepository,
    second_attempt: Any,
    answer: dict[str, str] | None,
    outcome: str,
) -> None:
    if answer is not None:
        gateway.set("C-1", "SUCCESSFUL", **answer)
    result = deliver(intake, clock, "SUCCESSFUL", reference="C-1")
    assert result.outcome == outcome
    assert repo.get("order-1001") == second_attempt


def test_an_unreachable_gateway_leaves_the_first_attempts_report_owed(
    intake: WebhookIntake, clock: Clock, gateway: FakeGateway, repo: PaymentRepository, second_attempt: Any
) -> None:
    """Given the gateway is down, When the first attempt is reported paid, Then its confirmation is owed under
    ITS Pay1st reference and attempt (the poller queries that one), and the payment is otherwise unchanged."""
    gateway.error = Pay1stConnectionError("down")
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "confirmation_owed"
    record = repo.get("order-1001")
    assert record is not None and record.status == "NEW" and record.reference == "C-2"
    assert {ref: (e["attemptReference"], e["reported"]) for ref, e in record.owed.items()} == {
        "C-1": ("order-1001", "SUCCESSFUL")
    }


def test_a_report_with_another_amount_is_refused_without_a_query(
    intake: WebhookIntake, clock: Clock, gateway: FakeGateway, second_attempt: Any
) -> None:
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1", amount="1.00").outcome == "amount_mismatch"
    assert gateway.queries == []


def test_a_paid_attempt_reported_again_costs_no_query(
    intake: WebhookIntake, clock: Clock, gateway: FakeGateway, repo: PaymentRepository, second_attempt: Any
) -> None:
    # Given the first attempt was confirmed paid (it became the current one), then the second was paid too
    gateway.set("C-1", "SUCCESSFUL")
    gateway.set("C-2", "SUCCESSFUL", partner_reference="order-1001..2")
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "applied"
    twice = deliver(intake, clock, "SUCCESSFUL", partner_reference="order-1001..2", reference="C-2", extra=1)
    assert twice.outcome == "double_paid"
    queries = list(gateway.queries)
    # When the second attempt's SUCCESSFUL comes again (a new delivery, not a replay of the same bytes)
    again = deliver(intake, clock, "SUCCESSFUL", partner_reference="order-1001..2", reference="C-2", extra=2)
    # Then it is a duplicate answered without asking the gateway
    assert again.outcome == "duplicate" and gateway.queries == queries
    record = repo.get("order-1001")
    assert record is not None and record.double_paid and record.reference == "C-1"


def test_a_first_attempt_paid_after_the_current_one_failed_is_recorded_for_a_refund(
    intake: WebhookIntake,
    clock: Clock,
    gateway: FakeGateway,
    repo: PaymentRepository,
    second_attempt: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the current attempt FAILED
    assert (
        deliver(intake, clock, "FAILED", partner_reference="order-1001..2", reference="C-2").status
        == "FAILED"
    )
    # When the first attempt is confirmed paid
    gateway.set("C-1", "SUCCESSFUL")
    result = deliver(intake, clock, "SUCCESSFUL", reference="C-1")
    # Then the payment stays FAILED (no regression), the attempt is recorded as paid, and it is reported
    assert (result.outcome, result.status) == ("paid_after_close", "FAILED")
    record = repo.get("order-1001")
    assert record is not None and not record.double_paid
    assert [(a["partnerReference"], a.get("reference")) for a in record.attempts] == [("order-1001", "C-1")]
    assert any(r.levelname == "ERROR" and "one needs a refund" in r.getMessage() for r in caplog.records)


def test_two_superseded_attempts_paid_after_the_current_one_failed_are_a_payment_paid_twice(
    intake: WebhookIntake, clock: Clock, gateway: FakeGateway, repo: PaymentRepository, aws: Any
) -> None:
    """Given a payment on its third attempt (the first two' answers lost), FAILED,
    When both superseded attempts are confirmed paid, one after the other,
    Then the first is recorded paid after close (a refund), and the second flags the payment paid twice with its
    event: money was taken twice for one order, where both were only "paid after close" and no PaymentPaidTwice
    signal came (the million-payment simulation, cohort 303 of seed 20261206)."""
    request = payment_request("order-1001")
    repo.claim(request, fingerprint(request), None)
    for _ in range(2):
        repo.mark_outcome_unknown("order-1001")
        record = repo.get("order-1001")
        assert (
            record is not None and repo.attempts().start_next(record, reason="duplicate_refused") is not None
        )
    repo.mark_created("order-1001", created_payment(payment_request("order-1001..3"), "C-3"))
    assert (
        deliver(intake, clock, "FAILED", partner_reference="order-1001..3", reference="C-3").status
        == "FAILED"
    )
    gateway.set("C-1", "SUCCESSFUL")
    gateway.set("C-2", "SUCCESSFUL", partner_reference="order-1001..2")
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "paid_after_close"
    clock.advance(60)
    twice = deliver(intake, clock, "SUCCESSFUL", partner_reference="order-1001..2", reference="C-2")
    assert (twice.outcome, twice.status) == ("double_paid", "FAILED")
    record = repo.get("order-1001")
    assert record is not None and record.double_paid and record.status == "FAILED"
    published = aws.published_events()[-1]
    assert published["detail-type"] == "Payment Paid Twice" and published["detail"]["status"] == "FAILED"
    validate(by_detail_type()["Payment Paid Twice"], published["detail"], detail_only=True)  # closed: allowed
