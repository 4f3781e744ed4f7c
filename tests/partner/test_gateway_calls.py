"""One rule for a failed money-moving gateway call, used by payments and refunds alike (in memory, no AWS)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pay1st.errors import (
    AuthenticationError,
    GatewayServerError,
    InvalidRequestError,
    OutcomeUnknownError,
    Pay1stConnectionError,
    RateLimitError,
    UnexpectedResponseError,
)
from pay1st.models import RefundRequest
from pay1st_partner import refund_state, state
from pay1st_partner.errors import (
    CreateOutcomeUnknown,
    GatewayRejected,
    GatewayUnavailable,
    RefundOutcomeUnknown,
)
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.gateway_calls import (
    ANSWER_LOST,
    CRASHED,
    REFUSED,
    RETRY_FAILED,
    UNEXPECTED,
    UNREACHABLE,
    classify_failed_call,
)
from pay1st_partner.payments import create as payments_create
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.refunds import create as refunds_create
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.store.memory.store import InMemoryPaymentStore

from tests.partner.helpers import Clock, created_payment, payment_request

_UNREACHABLE = Pay1stConnectionError("could not reach the gateway")


@pytest.mark.parametrize(
    ("exc", "claim_is_new", "reason", "release", "answer"),
    [
        (OutcomeUnknownError("answer lost"), True, ANSWER_LOST, False, None),
        (OutcomeUnknownError("answer lost"), False, ANSWER_LOST, False, None),
        (UnexpectedResponseError("odd", status=200), True, UNEXPECTED, False, None),
        (_UNREACHABLE, True, UNREACHABLE, True, GatewayUnavailable),
        (_UNREACHABLE, False, RETRY_FAILED, False, None),
        (RateLimitError(429), True, REFUSED, True, GatewayUnavailable),
        (GatewayServerError(503), True, REFUSED, True, GatewayUnavailable),
        (AuthenticationError(401, "BAD_KEY"), True, REFUSED, True, GatewayRejected),
        (InvalidRequestError(400, "BAD_AMOUNT"), True, REFUSED, True, GatewayRejected),
        (InvalidRequestError(400, "BAD_AMOUNT"), False, RETRY_FAILED, False, None),
        (KeyError("a bug"), True, CRASHED, False, None),
    ],
)
def test_a_failed_call_is_classified_by_whether_pay1st_may_have_acted(
    exc: BaseException, claim_is_new: bool, reason: str, release: bool, answer: type | None
) -> None:
    failed = classify_failed_call(exc, claim_is_new=claim_is_new, what="payment")
    assert (failed.reason, failed.release) == (reason, release)
    assert (type(failed.error) if failed.error else None) is answer


def test_a_refusal_names_what_was_refused_and_the_gateway_code() -> None:
    failed = classify_failed_call(InvalidRequestError(400, "BAD_AMOUNT"), claim_is_new=True, what="refund")
    assert isinstance(failed.error, GatewayRejected) and failed.error.http_status == 422
    assert str(failed.error) == "The Pay1st Gateway rejected the refund (errorCode BAD_AMOUNT)."


class _Unreachable:
    def create_payment(self, request: Any, *, deadline: float | None = None) -> Any:
        raise _UNREACHABLE

    def create_refund(self, request: Any, *, deadline: float | None = None) -> Any:
        raise _UNREACHABLE


def _paid_payment() -> tuple[PaymentRepository, RefundRepository]:
    clock, store = Clock(), InMemoryPaymentStore()
    payments, refunds = PaymentRepository(store, clock=clock), RefundRepository(store, clock=clock)
    request = payment_request()
    payments.claim(request, fingerprint(request), None)
    payments.mark_created("order-1001", created_payment(request))
    payments.apply_status("order-1001", "SUCCESSFUL", source="webhook")
    return payments, refunds


def test_a_retried_payment_claim_that_cannot_reach_pay1st_ends_unknown_not_creating() -> None:
    # Given a payment's claim that is not new (a new attempt under the same order), still CREATING
    clock, store = Clock(), InMemoryPaymentStore()
    payments = PaymentRepository(store, clock=clock)
    request = payment_request()
    payments.claim(request, fingerprint(request), None)
    # When its gateway call cannot reach Pay1st
    with pytest.raises(CreateOutcomeUnknown):
        payments_create._create_at_gateway(
            request,
            partner_reference="order-1001",
            claim_is_new=False,
            repository=payments,
            gateway=_Unreachable(),  # type: ignore[arg-type]
            deadline=None,
            new_attempt=True,
        )
    # Then the claim is unknown (a repeat asks again), never CREATING for good
    record = payments.get("order-1001")
    assert record is not None and record.status == state.CREATE_UNKNOWN


def test_a_retried_refund_claim_that_cannot_reach_pay1st_ends_unknown_not_creating() -> None:
    """The refund's copy of the rule left this claim CREATING (answering 409 until it aged out)."""
    # Given a refund's claim that is not new, still CREATING
    _, refunds = _paid_payment()
    claim = refunds.claim("order-1001", "rf-1", Decimal("10.00"), None)
    assert claim.refund.status == refund_state.CREATING
    request = RefundRequest(
        transaction_reference="C-113976984708914-P",
        partner_refund_reference="rf-1",
        amount=Decimal("10.00"),
        reason=None,
        refund_webhook_url="https://api.example/webhooks/pay1st/refunds",
    )
    # When its gateway call cannot reach Pay1st
    with pytest.raises(RefundOutcomeUnknown):
        refunds_create._request_at_gateway(
            request,
            claim.refund,
            claim_is_new=False,
            refunds=refunds,
            gateway=_Unreachable(),  # type: ignore[arg-type]
            deadline=None,
        )
    # Then, as for a payment, the claim is unknown
    payment = refunds.get("order-1001")
    refund = None if payment is None else payment.refund("rf-1")
    assert refund is not None and refund.status == refund_state.CREATE_UNKNOWN
