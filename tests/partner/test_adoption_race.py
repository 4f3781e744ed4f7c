"""A webhook adopting a payment while the partner's retried create supersedes the attempt it adopts.

Attempt 1's create answer was lost (CREATE_UNKNOWN, no Pay1st reference). Attempt 1 is paid; its signed
SUCCESSFUL starts adopting the payment, and while its status query is in flight the partner's retried create
is refused as a duplicate and makes attempt 2 (NEW, its own Pay1st reference). The adopting write then meets
attempt 2's reference. Found by the simulation (``make simulate PAYMENTS=20000 SEED=20261206``:
``paid_not_successful:superseded``): the intake answered 200 ``reference_mismatch`` and the only signal that
attempt 1 was paid was dropped. The real create use case and webhook intake, with rationed status queries, on
DynamoDB (moto) and on the in-memory store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pay1st.errors import InvalidRequestError, OutcomeUnknownError
from pay1st.models import CreatedPayment, PaymentDetails
from pay1st_partner.errors import CreateOutcomeUnknown
from pay1st_partner.events import EventPublisher
from pay1st_partner.payments.create import create_payment, parse_create_request
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore
from pay1st_partner.store.memory.store import InMemoryPaymentStore
from pay1st_partner.store.port import PaymentStore
from pay1st_partner.webhooks.intake import WebhookIntake

from tests.functions.outbound import create_body
from tests.partner.helpers import Clock, FakeGateway, created_payment, signed_headers, webhook_body

INTERVAL = 15.0


class Pay1st(FakeGateway):
    """One in-memory Pay1st: creates are stored (C-<n>), a stored partnerReference is refused as a duplicate,
    the first create's answer is lost, and ``during_query`` runs inside the next status query (the race)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers_lost = 1
        self.during_query: Callable[[], None] | None = None

    def create_payment(self, request: Any, *, deadline: float | None = None) -> CreatedPayment:
        if any(p["partnerReference"] == request.partner_reference for p in self.payments.values()):
            raise InvalidRequestError(400, "DUPLICATE_PARTNER_REFERENCE", "duplicate", "sess-1")
        reference = f"C-{len(self.payments) + 1}"
        self.set(reference, "NEW", partner_reference=request.partner_reference)
        if self.answers_lost > 0:
            self.answers_lost -= 1
            raise OutcomeUnknownError("the answer was lost")
        return created_payment(request, reference)

    def checkout_url(self, reference: str, channel_id: Any = None, *, deadline: float | None = None) -> str:
        return f"https://pay.example/{reference}"

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails:
        answer = super().get_payment(reference, deadline=deadline)  # read before the race, as in flight
        hook, self.during_query = self.during_query, None
        if hook is not None:
            hook()
        return answer


@pytest.fixture
def gateway() -> Pay1st:
    return Pay1st()


@pytest.fixture(params=["dynamodb", "memory"])
def payment_store(request: pytest.FixtureRequest, aws: Any) -> PaymentStore:
    if request.param == "memory":
        return InMemoryPaymentStore()
    return DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)


@pytest.fixture
def repo(payment_store: PaymentStore, clock: Clock) -> PaymentRepository:
    return PaymentRepository(payment_store, clock=clock)


@pytest.fixture
def reconciler(repo: PaymentRepository, gateway: Pay1st, publisher: EventPublisher) -> Reconciler:
    return Reconciler(repo, gateway, publisher, min_query_interval=INTERVAL)


def create(repo: PaymentRepository, gateway: Pay1st) -> Any:
    """The partner's POST /payments for order-1001 (250.50 ZAR), through the real create use case."""
    command = parse_create_request(json.loads(create_body("order-1001"), parse_float=Decimal))
    return create_payment(
        command, base_url="https://api.example", repository=repo, gateway=gateway, callback_key=b"k" * 32
    )


@pytest.fixture
def answer_lost(repo: PaymentRepository, gateway: Pay1st) -> PaymentRecord:
    """Given order-1001's first create stored at Pay1st as C-1 with its answer lost (CREATE_UNKNOWN)."""
    with pytest.raises(CreateOutcomeUnknown):
        create(repo, gateway)
    record = repo.get("order-1001")
    assert record is not None and (record.status, record.reference) == ("CREATE_UNKNOWN", None)
    return record


def deliver(intake: WebhookIntake, clock: Clock, status: str, **fields: Any) -> Any:
    body = webhook_body(status, **fields)
    return intake.handle(body, signed_headers(body, at=clock()))


def test_attempt_1_paid_while_a_retried_create_supersedes_it_ends_successful(
    intake: WebhookIntake, repo: PaymentRepository, gateway: Pay1st, clock: Clock, aws: Any, answer_lost: Any
) -> None:
    """Given attempt 1 (C-1, answer lost) paid at Pay1st,
    When its signed SUCCESSFUL is confirmed and, during that status query, the partner's retried create makes
    attempt 2 (C-2, NEW) before the adopting write,
    Then the confirmed answer is applied as attempt 1's, a superseded attempt's: the payment is SUCCESSFUL by
    attempt 1 with one Payment Succeeded (the old code answered ``reference_mismatch`` and lost it), and the
    displaced attempt 2 is owed a query after the interval; one status query in all."""
    gateway.set("C-1", "SUCCESSFUL")
    retried: list[Any] = []
    gateway.during_query = lambda: retried.append(create(repo, gateway))
    result = deliver(intake, clock, "SUCCESSFUL", reference="C-1")
    assert (retried[0].record.status, retried[0].record.reference) == ("NEW", "C-2")
    assert (result.outcome, result.status) == ("applied", "SUCCESSFUL")
    record = repo.get("order-1001")
    assert record is not None
    assert (record.status, record.reference, record.gateway_reference) == ("SUCCESSFUL", "C-1", "order-1001")
    assert [e["partnerReference"] for e in record.attempts] == ["order-1001..2"]
    assert {ref: e["reported"] for ref, e in record.owed.items()} == {"C-2": "DISPLACED"}
    assert gateway.queries == ["C-1"]
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Succeeded"]


def test_attempt_1_not_paid_after_all_is_a_superseded_attempts_report(
    intake: WebhookIntake, repo: PaymentRepository, gateway: Pay1st, clock: Clock, answer_lost: Any
) -> None:
    """Given attempt 1 FAILED at Pay1st, When its signed FAILED is confirmed while a retried create makes
    attempt 2, Then it is a superseded attempt's report (ignored), not a mismatch: attempt 2 stays NEW."""
    gateway.set("C-1", "FAILED")
    gateway.during_query = lambda: create(repo, gateway)
    assert deliver(intake, clock, "FAILED", reference="C-1").outcome == "superseded_attempt"
    record = repo.get("order-1001")
    assert record is not None and (record.status, record.reference) == ("NEW", "C-2")


def test_a_report_the_payment_holds_no_attempt_for_is_still_a_mismatch(
    intake: WebhookIntake, repo: PaymentRepository, gateway: Pay1st, clock: Clock, answer_lost: Any
) -> None:
    """Given Pay1st confirms C-9 as order-1001's, When the payment adopts C-1 (its own create's) during that
    query, Then the report of C-9 is refused as a reference mismatch: order-1001 is still the current attempt,
    not a superseded one, so C-9 is no attempt the payment holds (misrouting or forgery), and nothing changes."""
    gateway.set("C-9", "SUCCESSFUL")

    def adopt_c1() -> None:
        record = repo.get("order-1001")
        repo.apply_status("order-1001", "NEW", source="webhook", reference="C-1", current=record)

    gateway.during_query = adopt_c1
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-9").outcome == "reference_mismatch"
    record = repo.get("order-1001")
    assert record is not None and (record.status, record.reference, record.attempts) == ("NEW", "C-1", ())


def test_attempt_1_adopted_after_a_retried_create_moved_on_is_promoted_and_attempt_2_paid_is_paid_twice(
    intake: WebhookIntake, repo: PaymentRepository, gateway: Pay1st, clock: Clock, aws: Any, answer_lost: Any
) -> None:
    """Given attempt 1 (C-1, answer lost) paid at Pay1st,
    When, during its signed SUCCESSFUL's status query, the partner's retried create makes attempt 2 (C-2) and
    loses that answer too (the payment follows attempt 2, still without a Pay1st reference),
    Then the adopting write does not put C-1 on attempt 2: attempt 1 is promoted as a superseded attempt paid
    (SUCCESSFUL by attempt 1, attempt 2 superseded); And when attempt 2 is paid as well, its report flags the
    payment paid twice. The old write adopted C-1 under attempt 2 and answered attempt 2's report
    ``reference_mismatch``: a second payment lost (the million-payment simulation, cohort 86 of seed 20261206)."""
    gateway.set("C-1", "SUCCESSFUL")
    gateway.answers_lost = 1

    def retried_create() -> None:
        with pytest.raises(CreateOutcomeUnknown):
            create(repo, gateway)

    gateway.during_query = retried_create
    result = deliver(intake, clock, "SUCCESSFUL", reference="C-1")
    assert (result.outcome, result.status) == ("applied", "SUCCESSFUL")
    record = repo.get("order-1001")
    assert record is not None
    assert (record.status, record.reference, record.gateway_reference) == ("SUCCESSFUL", "C-1", "order-1001")
    assert [e["partnerReference"] for e in record.attempts] == ["order-1001..2"]
    # And attempt 2 is paid too
    gateway.set("C-2", "SUCCESSFUL", partner_reference="order-1001..2")
    clock.advance(INTERVAL + 1)
    second = deliver(intake, clock, "SUCCESSFUL", reference="C-2", partner_reference="order-1001..2")
    assert second.outcome == "double_paid"
    record = repo.get("order-1001")
    assert record is not None and record.double_paid and record.status == "SUCCESSFUL"
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Succeeded", "Payment Paid Twice"]


def test_a_superseded_attempt_paid_whose_write_loses_a_race_is_decided_again(
    intake: WebhookIntake,
    repo: PaymentRepository,
    payment_store: PaymentStore,
    gateway: Pay1st,
    clock: Clock,
    aws: Any,
    answer_lost: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given order-1001 on attempt 2 (C-2, NEW) and attempt 1 (C-1) paid at Pay1st,
    When attempt 1's signed SUCCESSFUL is confirmed and, just before its promotion is written, attempt 2 moves
    to PENDING (another webhook's write),
    Then the promotion, refused by its write's condition, is decided again on a fresh read: the payment is
    SUCCESSFUL by attempt 1. The old code answered 200 ``stale`` and nothing ever asked about attempt 1 again:
    paid at Pay1st, FAILED here once attempt 2 failed (the million-payment simulation, cohorts 372 and 928 of
    seed 20261206)."""
    assert create(repo, gateway).record.reference == "C-2"
    gateway.set("C-1", "SUCCESSFUL")
    write_attempts = payment_store.write_attempts
    raced: list[bool] = []

    def racing(change: Any) -> Any:
        if not raced:
            raced.append(True)
            current = repo.get("order-1001")
            repo.apply_status("order-1001", "PENDING", source="webhook", reference="C-2", current=current)
        return write_attempts(change)

    monkeypatch.setattr(payment_store, "write_attempts", racing)
    result = deliver(intake, clock, "SUCCESSFUL", reference="C-1")
    assert raced and (result.outcome, result.status) == ("applied", "SUCCESSFUL")
    record = repo.get("order-1001")
    assert record is not None and (record.reference, record.gateway_reference) == ("C-1", "order-1001")
    assert [e["detail-type"] for e in aws.published_events()][-1] == "Payment Succeeded"


def test_a_superseded_attempt_paid_whose_writes_keep_losing_races_is_owed_not_dropped(
    intake: WebhookIntake,
    repo: PaymentRepository,
    reconciler: Reconciler,
    payment_store: PaymentStore,
    gateway: Pay1st,
    clock: Clock,
    answer_lost: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given order-1001 on attempt 2 (C-2) and attempt 1 (C-1) paid at Pay1st,
    When attempt 1's confirmed SUCCESSFUL loses every write it tries (three fresh reads),
    Then the report is owed, not answered done (it was 200 ``stale``, and nobody asked again); And once the writes
    go through, the poller's owed queries (attempt 2's displaced one, then attempt 1's) promote attempt 1."""
    assert create(repo, gateway).record.reference == "C-2"
    gateway.set("C-1", "SUCCESSFUL")
    write_attempts = payment_store.write_attempts
    monkeypatch.setattr(payment_store, "write_attempts", lambda change: None)
    assert deliver(intake, clock, "SUCCESSFUL", reference="C-1").outcome == "confirmation_owed"
    owed = repo.get("order-1001")
    assert owed is not None and owed.status == "NEW" and owed.owed["C-1"]["attemptReference"] == "order-1001"
    monkeypatch.setattr(payment_store, "write_attempts", write_attempts)
    outcomes = []
    for _ in range(2):  # attempt 2's displaced confirmation (owed first, oldest), then attempt 1's
        clock.advance(INTERVAL + 1)
        current = repo.get("order-1001")
        assert current is not None
        outcomes.append(repo.owed().pay(current, reconciler, deadline=None))
    assert outcomes == ["duplicate", "applied"]
    record = repo.get("order-1001")
    assert record is not None and (record.status, record.reference) == ("SUCCESSFUL", "C-1")
