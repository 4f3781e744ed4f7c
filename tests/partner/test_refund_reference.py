"""Which reference a refund names the payment by (§15, issue 25): the payment's ``reference`` by default, the
``C-…-T`` transaction id Pay1st sent with ``RefundTransactionReference=transaction-id``; a refusal because of
the reference names the parameter and the value that would work."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from pay1st.errors import InvalidRequestError
from pay1st.models import CreatedPayment, CreatedRefund, PaymentDetails, RefundRequest, WebhookEvent
from pay1st_partner.errors import DomainError
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds.create import RefundCommand, create_refund
from pay1st_partner.refunds.reference import is_reference_refusal
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.memory.store import InMemoryPaymentStore

from tests.partner.helpers import Clock, created_payment, payment_request

REFERENCE = "C-113976984708914-P"
TRANSACTION = "C-113976984708915-T"


class _Publisher:
    def publish(self, events: Sequence[OutboxEvent], outbox: Any) -> list[OutboxEvent]:
        return list(events)


class _Pay1st:
    """Pay1st's refund request, looking the payment up by one kind of reference only (as the sandbox's mode)."""

    def __init__(self, knows: str) -> None:
        self.knows = knows
        self.sent: list[str] = []

    def create_refund(self, request: RefundRequest, *, deadline: float | None = None) -> CreatedRefund:
        self.sent.append(request.transaction_reference)
        if request.transaction_reference != self.knows:
            raise InvalidRequestError(
                400, "UNKNOWN_REFERENCE", "No transaction with this transactionReference.", "sess-1"
            )
        return CreatedRefund.from_dict(
            {
                "refundReference": "R-1",
                "transactionReference": request.transaction_reference,
                "partnerRefundReference": request.partner_refund_reference,
                "amount": str(request.amount),
                "status": "PENDING",
                "handlingType": "PSP_API",
            }
        )


def paid(transaction_id: str | None = TRANSACTION) -> tuple[PaymentRepository, RefundRepository]:
    """Given a paid payment whose create answer carried ``transaction_id`` (None: none)."""
    clock, store = Clock(), InMemoryPaymentStore()
    payments, refunds = PaymentRepository(store, clock=clock), RefundRepository(store, clock=clock)
    request = payment_request()
    payments.claim(request, fingerprint(request), None)
    record = payments.mark_created("order-1001", created_payment(request, REFERENCE))
    payments.note_transaction_id(record, transaction_id)
    payments.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    return payments, refunds


def refund(refunds: RefundRepository, gateway: _Pay1st, mode: str | None = None) -> Any:
    options = {} if mode is None else {"reference_mode": mode}
    return create_refund(
        "order-1001",
        RefundCommand("rf-1", Decimal("10.00"), None),
        base_url="https://api.example",
        refunds=refunds,
        gateway=gateway,  # type: ignore[arg-type]
        publisher=_Publisher(),  # type: ignore[arg-type]
        **options,
    )


def test_by_default_a_refund_names_the_payments_reference() -> None:
    _, refunds = paid()
    gateway = _Pay1st(knows=REFERENCE)
    assert refund(refunds, gateway).refund.status == "PENDING"
    assert gateway.sent == [REFERENCE]


def test_a_refusal_because_of_the_reference_names_the_parameter_and_the_value_that_works() -> None:
    """Given Pay1st that wants the transaction id and the bundle on the default, when a refund is requested,
    then it is a 422 refund_reference_refused naming RefundTransactionReference=transaction-id, and the claim is
    released; with the parameter set, the same refundReference then succeeds with the transaction id."""
    _, refunds = paid()
    gateway = _Pay1st(knows=TRANSACTION)
    with pytest.raises(DomainError) as caught:
        refund(refunds, gateway)
    error = caught.value
    assert (error.http_status, error.code) == (422, "refund_reference_refused")
    assert error.message == (
        "Pay1st refused the refund's transactionReference (errorCode UNKNOWN_REFERENCE): it was the payment's "
        f"reference {REFERENCE} (RefundTransactionReference=payment-reference); set "
        f"RefundTransactionReference=transaction-id (the transaction id Pay1st sent ({TRANSACTION}))."
    )
    assert refunds.owner("rf-1") is None  # released: nothing reserved
    assert refund(refunds, gateway, "transaction-id").refund.status == "PENDING"
    assert gateway.sent == [REFERENCE, TRANSACTION]


def test_the_other_way_round_names_payment_reference() -> None:
    _, refunds = paid()
    with pytest.raises(DomainError) as caught:
        refund(refunds, _Pay1st(knows=REFERENCE), "transaction-id")
    assert caught.value.code == "refund_reference_refused"
    assert "set RefundTransactionReference=payment-reference (the payment's reference" in caught.value.message


def test_transaction_id_mode_without_a_transaction_id_is_a_409_before_any_call() -> None:
    _, refunds = paid(transaction_id=None)
    gateway = _Pay1st(knows=TRANSACTION)
    with pytest.raises(DomainError) as caught:
        refund(refunds, gateway, "transaction-id")
    assert (caught.value.http_status, caught.value.code) == (409, "transaction_id_unknown")
    assert "RefundTransactionReference=payment-reference" in caught.value.message
    assert gateway.sent == [] and refunds.owner("rf-1") is None


def test_other_refusals_are_not_about_the_reference() -> None:
    assert not is_reference_refusal(InvalidRequestError(400, "PAYMENT_NOT_REFUNDABLE", "not paid", None))
    assert not is_reference_refusal(ValueError("x"))
    assert is_reference_refusal(InvalidRequestError(404, "TRANSACTION_NOT_FOUND", None, None))


def test_the_transaction_id_is_read_from_what_pay1st_sends() -> None:
    """A ``C-…-T`` id in ``transactionReference`` (or any top-level field) of a create answer, a status query's
    answer or a webhook; a ``C-…-P`` is not one."""
    base = {
        "reference": REFERENCE,
        "partnerReference": "order-1001",
        "countryCode": "ZA",
        "currencyCode": "ZAR",
        "amount": "250.50",
        "status": "NEW",
    }
    assert (
        CreatedPayment.from_dict({**base, "transactionReference": TRANSACTION}).transaction_id == TRANSACTION
    )
    assert CreatedPayment.from_dict(base).transaction_id is None
    assert PaymentDetails.from_dict({**base, "transactionId": TRANSACTION}).transaction_id == TRANSACTION
    event = {**base, "orderAmount": "250.50", "transactionReference": TRANSACTION}
    assert WebhookEvent.from_dict(event).transaction_id == TRANSACTION
    assert WebhookEvent.from_dict({**event, "transactionReference": REFERENCE}).transaction_id is None


def test_the_latest_transaction_id_is_kept_and_a_repeat_writes_nothing() -> None:
    payments, _ = paid(transaction_id=None)
    record = payments.get("order-1001")
    assert record is not None and record.transaction_id is None
    noted = payments.note_transaction_id(record, TRANSACTION)
    assert noted.transaction_id == TRANSACTION
    assert payments.note_transaction_id(noted, TRANSACTION) is noted
    stored = payments.get("order-1001")
    assert stored is not None and stored.transaction_id == TRANSACTION


def test_dynamodb_keeps_the_transaction_id_like_memory(aws: Any) -> None:
    from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

    store = DynamoDBPaymentStore("PaymentsTable", client=aws.dynamodb)
    payments = PaymentRepository(store, clock=Clock())
    request = payment_request()
    payments.claim(request, fingerprint(request), None)
    assert store.note_transaction_id("order-1001", TRANSACTION) is not None
    assert store.note_transaction_id("order-1001", TRANSACTION) is None  # already held
    assert store.note_transaction_id("nobody", TRANSACTION) is None
    record = payments.get("order-1001")
    assert record is not None and record.transaction_id == TRANSACTION


def test_a_signed_webhook_and_a_status_answer_bring_the_transaction_id(
    intake: Any, repo: PaymentRepository, reconciler: Any, gateway: Any, new_payment: Any, clock: Clock
) -> None:
    """Given a NEW payment, when Pay1st's signed PENDING webhook carries a transaction id, then it is kept; when
    a later status answer carries another, that one is kept (the latest Pay1st sent)."""
    from tests.partner.helpers import signed_headers, webhook_body

    new_payment()
    body = webhook_body("PENDING", transactionReference=TRANSACTION)
    assert intake.handle(body, signed_headers(body, at=clock())).outcome == "applied"
    record = repo.get("order-1001")
    assert record is not None and record.transaction_id == TRANSACTION
    gateway.set("C-order-1001-P", "PENDING")
    gateway.payments["C-order-1001-P"]["transactionReference"] = "C-2-T"
    reconciler.refresh(record, source="poller")
    after = repo.get("order-1001")
    assert after is not None and after.transaction_id == "C-2-T"
