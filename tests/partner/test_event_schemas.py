"""The events the domain emits match schemas/events/: every detail-type the code can publish, driven through
the real repositories on DynamoDB (moto), read back from the payment's outbox as the poller re-publishes them,
sent to EventBridge and validated as the partner's rule receives them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from pay1st_partner import refund_state, state
from pay1st_partner.events import REVERSAL_DETAIL_TYPES, EventPublisher
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.attempts import PAID_TWICE_DETAIL_TYPE
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

from release.event_schemas import EventSchema, by_detail_type
from tests.partner.helpers import Clock, created_payment, payment_request

SCHEMAS = by_detail_type()
CODE_DETAIL_TYPES = {
    *state.DETAIL_TYPES.values(),
    *REVERSAL_DETAIL_TYPES.values(),
    state.STEP_DETAIL_TYPE,
    PAID_TWICE_DETAIL_TYPE,
    refund_state.REFUND_REQUESTED,
    refund_state.REFUND_SUCCEEDED,
    refund_state.REFUND_FAILED,
}


def validate(schema: EventSchema, instance: Any, *, detail_only: bool = False) -> None:
    """Validate, and refuse a detail field the schema does not declare (the schemas allow new fields, so a
    partner's validator keeps passing when a release adds one; the bundle's own emissions must be declared)."""
    document = schema.detail_schema() if detail_only else schema.document
    jsonschema.Draft4Validator(document, format_checker=jsonschema.FormatChecker()).validate(instance)
    detail = instance if detail_only else instance["detail"]
    declared = schema.document["definitions"][schema.name]["properties"]
    assert set(detail) <= set(declared), f"{schema.name} does not declare {set(detail) - set(declared)}"


def test_every_detail_type_the_code_publishes_has_one_valid_schema() -> None:
    # Given the detail-types named in the code (statuses, reversals, paid twice, refunds)
    # Then each has exactly one schema, each a valid draft-4 schema of its EventBridge event
    assert set(SCHEMAS) == CODE_DETAIL_TYPES
    for schema in SCHEMAS.values():
        jsonschema.Draft4Validator.check_schema(schema.document)
        assert schema.source == "pay1st.partner"
        assert schema.document["properties"]["detail-type"]["enum"] == [schema.detail_type]


def _new(repo: PaymentRepository, partner_reference: str) -> None:
    request = payment_request(partner_reference)
    repo.claim(request, fingerprint(request), None)
    repo.mark_created(partner_reference, created_payment(request, f"C-{partner_reference}-P"))


def _drive_every_event(repo: PaymentRepository, refunds: RefundRepository) -> list[OutboxEvent]:
    """Every path that emits an event, as the use cases call the repositories; the events they returned."""
    emitted: list[OutboxEvent] = []

    def keep(event: OutboxEvent | None) -> None:
        assert event is not None
        emitted.append(event)

    for status in ("PENDING", "PENDING_INVESTIGATION", "SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED"):
        _new(repo, f"pay-{status.lower()}")
        keep(repo.apply_status(f"pay-{status.lower()}", status, source="webhook").event)
    keep(
        repo.apply_status("pay-pending", "SUCCESSFUL", source="poller").event
    )  # with a previousStatus PENDING
    # An in-progress step (§9): told once, beside the payment's open status
    _new(repo, "pay-step")
    keep(repo.apply_status("pay-step", "SEND_OTP", source="webhook").event)
    # Reversals of paid payments, confirmed by a status query
    for kind, reference in (("CHARGEBACK", "pay-successful"), ("REFUND", "pay-pending")):
        record = refunds.get(reference)
        assert record is not None
        keep(refunds.record_reversal(record, kind, source="poller")[1])
    # Refunds: requested then succeeded; failed; rejected (NO_REFUND) straight from the create
    _new(repo, "pay-refunded")
    keep(repo.apply_status("pay-refunded", "SUCCESSFUL", source="webhook").event)
    for refund_reference, steps in (
        ("rf-ok", [("PENDING", "PSP_API"), ("SUCCESSFUL", None)]),
        ("rf-failed", [("PROCESSING", "PSP_MANUAL"), ("FAILED", None)]),
        ("rf-rejected", [("PENDING", "NO_REFUND")]),
    ):
        refunds.claim("pay-refunded", refund_reference, Decimal("10.00"), "customer asked")
        for status, handling in steps:
            transition = refunds.apply_status(
                "pay-refunded",
                refund_reference,
                status,
                source="webhook",
                pay1st_refund_reference=f"R-{refund_reference}",
                handling_type=handling,
            )
            emitted.extend(transition.events)
    # Two attempts, both paid: the second is announced as paid twice
    request = payment_request("pay-twice")
    repo.claim(request, fingerprint(request), None)
    repo.mark_outcome_unknown("pay-twice")
    unknown = repo.get("pay-twice")
    assert unknown is not None and repo.attempts().start_next(unknown, reason="duplicate_refused") is not None
    current = repo.mark_created("pay-twice", created_payment(payment_request("pay-twice..2"), "C-2"))
    _, paid, event = repo.attempts().paid(current, "pay-twice", "C-1")
    keep(event)
    keep(repo.attempts().paid(paid, "pay-twice..2", "C-2")[2])
    return emitted


@pytest.fixture
def refunds(aws: Any, clock: Clock) -> RefundRepository:
    return RefundRepository(DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb), clock=clock)


def test_every_event_the_code_emits_matches_its_schema_as_built_and_as_delivered(
    repo: PaymentRepository,
    refunds: RefundRepository,
    publisher: EventPublisher,
    clock: Clock,
    aws: Any,
) -> None:
    # Given every path that emits an event, driven through the repositories on DynamoDB
    emitted = _drive_every_event(repo, refunds)
    # Then every detail-type was emitted, and each detail as built matches its schema
    assert {event.detail_type for event in emitted} == CODE_DETAIL_TYPES
    for event in emitted:
        validate(SCHEMAS[event.detail_type], dict(event.detail), detail_only=True)
    # When the outbox is read back from the payment items (as the poller re-publishes) and sent to EventBridge
    pending = repo.pending_events(older_than=clock() + timedelta(minutes=5), limit=100)
    assert sorted(e.event_id for e in pending) == sorted(e.event_id for e in emitted)
    assert len(publisher.publish(pending, repo)) == len(emitted)
    # Then every event the partner's rule receives matches its schema, envelope and detail
    delivered = aws.published_events()
    assert len(delivered) == len(emitted)
    for envelope in delivered:
        assert "account" not in envelope  # moto's SQS target leaves it out; EventBridge always sets it
        validate(SCHEMAS[envelope["detail-type"]], {**envelope, "account": "123456789012"})


def test_a_detail_that_breaks_its_schema_is_refused() -> None:
    # Given a Payment Succeeded detail whose amount is a float, and one without its eventId
    schema = SCHEMAS["Payment Succeeded"]
    good = {
        "eventId": "o-1:SUCCESSFUL",
        "partnerReference": "o-1",
        "reference": "C-1",
        "status": "SUCCESSFUL",
        "amount": "250.50",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "occurredAt": "2026-01-15T10:30:00.000Z",
    }
    validate(schema, good, detail_only=True)
    # Then the schema refuses both, and a status of another detail-type
    for broken in (
        {**good, "amount": 250.5},
        {key: value for key, value in good.items() if key != "eventId"},
        {**good, "status": "FAILED"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(schema, broken, detail_only=True)
