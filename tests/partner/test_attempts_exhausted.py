"""The end of attempts (README "Attempts"): nine lost creates end the payment honestly, and a paid one still counts.

On moto, the real create use case and webhook intake, with a gateway that stores every create and loses its
answer (each repeat of a stored reference is refused as a duplicate, as Pay1st does).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pay1st.errors import InvalidRequestError, OutcomeUnknownError
from pay1st_partner.errors import AttemptsExhausted, CreateOutcomeUnknown
from pay1st_partner.payments import attempts
from pay1st_partner.payments.create import create_payment, parse_create_request
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.payments.views import payment_view
from pay1st_partner.references import MAX_ATTEMPTS
from pay1st_partner.store.codec import from_item
from pay1st_partner.webhooks.intake import WebhookIntake

from tests.functions.outbound import create_body
from tests.partner.helpers import Clock, FakeGateway, signed_headers, webhook_body
from tools.pay1st_ops.history import story


class LosingGateway(FakeGateway):
    """Stores every create at Pay1st (reference C-<n>) and loses every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.creates: list[str] = []

    def create_payment(self, request: Any, *, deadline: float | None = None) -> Any:
        self.creates.append(request.partner_reference)
        if request.partner_reference in self.stored():
            raise InvalidRequestError(400, "DUPLICATE_PARTNER_REFERENCE", "duplicate", "sess-1")
        number = len(self.payments) + 1
        self.set(f"C-{number}", "NEW", partner_reference=request.partner_reference)
        raise OutcomeUnknownError("the answer was lost")

    def stored(self) -> dict[str, str]:
        return {str(p["partnerReference"]): ref for ref, p in self.payments.items()}


@pytest.fixture
def gateway() -> LosingGateway:
    """The one in-memory Pay1st: creates go to it, and the intake's status queries confirm from it."""
    return LosingGateway()


def repeat(repo: PaymentRepository, gateway: LosingGateway) -> Any:
    command = parse_create_request(json.loads(create_body("order-9x"), parse_float=Decimal))
    return create_payment(
        command, base_url="https://api.example", repository=repo, gateway=gateway, callback_key=b"k" * 32
    )


def exhaust(repo: PaymentRepository, gateway: LosingGateway) -> list[str]:
    """Given a payment whose every create answer was lost: the 502 messages, one per attempt."""
    messages = []
    for _ in range(
        MAX_ATTEMPTS
    ):  # the first request, then each repeat: refused as a duplicate, a new attempt
        with pytest.raises(CreateOutcomeUnknown) as lost:
            repeat(repo, gateway)
        messages.append(lost.value.message)
    return messages


def test_nine_lost_creates_end_the_payment_with_its_orphans_listed_and_repeats_refused(
    aws: Any, repo: PaymentRepository, gateway: LosingGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(attempts, "count", lambda name, *a, **k: counted.append(name))
    # Given nine attempts, each created at Pay1st and each answer lost
    messages = exhaust(repo, gateway)
    assert len(gateway.payments) == MAX_ATTEMPTS
    # Then each 502 said which attempt it was, and the last one that the next repeat may end the payment
    assert "(attempt 1 of 9)" in messages[0] and "(attempt 9 of 9)" in messages[-1]
    assert "This was the last attempt" in messages[-1] and "attempts_exhausted" in messages[-1]
    assert "This was the last attempt" not in messages[0]

    # When the partner repeats once more (Pay1st refuses the ninth reference as a duplicate)
    with pytest.raises(AttemptsExhausted) as ended:
        repeat(repo, gateway)
    # Then 409 attempts_exhausted says nothing more will be created, and the payment ends with a reason
    assert (ended.value.http_status, ended.value.code) == (409, "attempts_exhausted")
    assert "creates nothing" in ended.value.message and "NEW partnerReference" in ended.value.message
    record = repo.get("order-9x")
    assert record is not None and record.status == "CREATE_UNKNOWN"
    assert record.attempts_exhausted_at is not None
    assert payment_view(record)["attemptsExhaustedAt"] == record.attempts_exhausted_at
    assert counted.count("PaymentAttemptsExhausted") == 1  # alarmed
    # And the operator's story (pay1st_ops show) lists every orphaned attempt
    raw = aws.dynamodb.get_item(TableName="PaymentsTable", Key={"partnerReference": {"S": "order-9x"}})
    entries = story(from_item(raw["Item"]), [])
    [orphans] = [e for e in entries if e.text.startswith("ATTEMPTS EXHAUSTED")]
    assert orphans.data["orphanedAttempts"] == list(gateway.stored())

    # And later repeats answer the same without calling Pay1st at all
    creates = len(gateway.creates)
    with pytest.raises(AttemptsExhausted):
        repeat(repo, gateway)
    assert len(gateway.creates) == creates


@pytest.mark.parametrize(("paid", "attempt"), [("C-4", "order-9x..4"), ("C-9", "order-9x..9")])
def test_an_orphaned_attempt_reported_paid_after_the_end_still_pays_the_payment(
    repo: PaymentRepository,
    gateway: LosingGateway,
    intake: WebhookIntake,
    clock: Clock,
    paid: str,
    attempt: str,
) -> None:
    # Given a payment whose attempts ran out
    exhaust(repo, gateway)
    with pytest.raises(AttemptsExhausted):
        repeat(repo, gateway)
    # When Pay1st reports one of its attempts (a superseded one, or the last) paid, and confirms it
    gateway.payments[paid]["status"] = "SUCCESSFUL"
    body = webhook_body("SUCCESSFUL", partner_reference=attempt, reference=paid)
    result = intake.handle(body, signed_headers(body, at=clock()))
    # Then the payment is SUCCESSFUL by that attempt
    assert result.status == "SUCCESSFUL", result
    record = repo.get("order-9x")
    assert record is not None and (record.status, record.reference) == ("SUCCESSFUL", paid)
