"""The partner client against the local stack: refused unsigned, accepted signed, real answers typed."""

from __future__ import annotations

import uuid

import pytest
from local_stack.partner import NoAuth, partner_client
from local_stack.stack import LocalStack
from pay1st_partner_client import (
    Forbidden,
    FulfilledProduct,
    InvalidRequest,
    PartnerClient,
    PaymentNotFound,
    PaymentNotSuccessful,
    Product,
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
