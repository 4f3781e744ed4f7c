"""The refund reference end to end through the local stack (§15, issue 25): the Pay1st sandbox in
transaction-reference mode (it issues ``C-…-T`` transaction ids in its answers and webhooks and refuses refunds
that name the payment's ``C-…-P``), the bundle on the default and with ``RefundTransactionReference``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from local_stack.partner import partner_client
from local_stack.stack import LocalStack
from pay1st_partner_client import PartnerClient, Product, RefundReferenceRefused

from tests.local.local_kit import running_stack


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "refund-default") as running:
        yield running


@pytest.fixture(scope="module")
def transaction_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    overrides = {"RefundTransactionReference": "transaction-id"}
    with running_stack(tmp_path_factory, "refund-transaction", parameter_overrides=overrides) as running:
        yield running


def paid_payment(stack: LocalStack) -> tuple[PartnerClient, str]:
    """Given the sandbox in transaction-reference mode and a payment it answered with a ``C-…-T`` id, paid
    (its webhook confirmed with a status query): the client and the partnerReference."""
    assert stack.sandbox is not None
    control = stack.sandbox.control
    control.set_faults(refund_reference="transaction")
    client = partner_client(stack)
    reference = f"refref-{uuid.uuid4().hex[:8]}"
    created = client.create_payment(
        reference,
        amount="250.50",
        currency_code="ZAR",
        country_code="ZA",
        products=[Product("500 Gems", "GEM-500", "250.50", 1)],
    )
    assert str(control.payment(str(created.reference)).get("transactionReference", "")).endswith("-T")
    control.settle(str(created.reference), "pay")
    control.flush_webhooks(timeout=15)
    assert client.get_payment(reference).status == "SUCCESSFUL"
    return client, reference


def test_on_the_default_a_refund_is_refused_with_the_parameter_that_would_work(
    default_stack: LocalStack,
) -> None:
    """When the partner refunds on a stack left on RefundTransactionReference=payment-reference, then the
    answer is 422 refund_reference_refused naming RefundTransactionReference=transaction-id."""
    client, reference = paid_payment(default_stack)
    with pytest.raises(RefundReferenceRefused) as caught:
        client.refund(reference, f"{reference}-r1", amount="50.00")
    assert (caught.value.status, caught.value.code) == (422, "refund_reference_refused")
    assert (
        "(RefundTransactionReference=payment-reference); set RefundTransactionReference=transaction-id"
        in (caught.value.message)
    )
    assert client.get_payment(reference).refunds == ()  # released: nothing reserved


def test_with_the_parameter_set_the_refund_succeeds_end_to_end(transaction_stack: LocalStack) -> None:
    """When the stack runs with RefundTransactionReference=transaction-id, then the refund is accepted and
    Pay1st's refund webhooks (naming the transaction id) settle it SUCCESSFUL."""
    client, reference = paid_payment(transaction_stack)
    requested = client.refund(reference, f"{reference}-r1", amount="50.00")
    assert requested.status == "PENDING"
    assert transaction_stack.sandbox is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        transaction_stack.sandbox.control.flush_webhooks(timeout=15)
        (refund,) = client.get_payment(reference).refunds
        if refund.status == "SUCCESSFUL":
            break
        time.sleep(0.3)
    assert refund.status == "SUCCESSFUL"
    assert [r["transactionReference"][-2:] for r in transaction_stack.sandbox.control.refunds()] == ["-T"]
