"""The partner client against the local stack: refused unsigned, accepted signed, real answers typed."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from local_stack.partner import NoAuth, partner_client
from local_stack.stack import LocalStack
from pay1st_partner_client import (
    AmountExceedsRefundable,
    Forbidden,
    FulfilledProduct,
    InvalidRequest,
    PartnerClient,
    PaymentNotFound,
    PaymentNotRefundable,
    PaymentNotSuccessful,
    Product,
    RefundConflict,
)


def test_the_stack_refuses_the_unsigned_client_and_accepts_the_signed_one(local_stack: LocalStack) -> None:
    with pytest.raises(Forbidden) as refused:
        PartnerClient(local_stack.api_url, NoAuth()).payment_methods("NG")
    assert (refused.value.status, refused.value.message) == (403, "Forbidden")

    methods = partner_client(local_stack).payment_methods("NG")
    assert methods.country_code == "NG" and methods.channels


def test_create_read_and_the_errors_of_a_new_payment(local_stack: LocalStack) -> None:
    client = partner_client(local_stack)
    reference = f"client-{uuid.uuid4().hex[:10]}"
    order = {
        "amount": "99.99",
        "currency_code": "NGN",
        "country_code": "NG",
        "products": [Product("Battle Pass", "PASS-1", "99.99", 1)],
    }
    created = client.create_payment(reference, **order)
    assert created.status == "NEW" and created.checkout_url and not created.replayed
    again = client.create_payment(reference, **order)
    assert again.replayed and again.reference == created.reference

    assert client.get_payment(reference).status == "NEW"
    with pytest.raises(PaymentNotSuccessful):
        client.report_fulfilment(reference, [FulfilledProduct("PASS-1", 1)])
    with pytest.raises(PaymentNotFound):
        client.get_payment(f"missing-{reference}")
    with pytest.raises(InvalidRequest) as invalid:
        client.payment_methods("nigeria")
    assert invalid.value.code == "invalid_request" and invalid.value.status == 400


def test_refund_a_paid_payment_and_read_it_back(local_stack: LocalStack) -> None:
    # Given a payment that is not paid yet
    assert local_stack.sandbox is not None
    client, control = partner_client(local_stack), local_stack.sandbox.control
    reference = f"client-{uuid.uuid4().hex[:10]}"
    created = client.create_payment(
        reference,
        amount="250.50",
        currency_code="ZAR",
        country_code="ZA",
        products=[Product("500 Gems", "GEM-500", "250.50", 1)],
    )
    with pytest.raises(PaymentNotRefundable):
        client.refund(reference, f"{reference}-early")
    # When it is paid, and the partner refunds part of it, twice with the same refundReference
    control.settle(str(created.reference), "pay")
    control.flush_webhooks(timeout=15)
    refund = client.refund(reference, f"{reference}-r1", amount=Decimal("10.00"), reason="goodwill")
    again = client.refund(reference, f"{reference}-r1", amount=Decimal("10.00"), reason="goodwill")
    # Then Pay1st has one refund, answered twice (the second a replay)
    assert (refund.status, refund.amount, refund.replayed, again.replayed) == (
        "PENDING",
        Decimal("10.00"),
        False,
        True,
    )
    assert again.pay1st_refund_reference == refund.pay1st_refund_reference is not None
    assert [r["partnerRefundReference"] for r in control.refunds()].count(f"{reference}-r1") == 1
    # And the payment shows it; more than what is left is refused
    payment = client.get_payment(reference)
    assert [r.refund_reference for r in payment.refunds] == [f"{reference}-r1"]
    assert payment.refundable_amount == Decimal("240.50")
    with pytest.raises(AmountExceedsRefundable) as too_much:
        client.refund(reference, f"{reference}-r2", amount="240.51")
    assert too_much.value.status == 400
    with pytest.raises(RefundConflict):
        client.refund(reference, f"{reference}-r1", amount="11.00")
