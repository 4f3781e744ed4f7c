"""§15 refund requests: the operation row, the models, and the client against the independent sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from layer_fakes import CREDENTIALS
from pay1st.client import ClientConfig, Pay1stClient
from pay1st.errors import InvalidRequestError, OutcomeUnknownError, ValidationError
from pay1st.models import (
    CreatedRefund,
    MetadataItem,
    PaymentRequest,
    Product,
    RefundRequest,
    RefundStatus,
    RefundWebhookEvent,
)
from pay1st.operations import CREATE_REFUND, OPERATIONS, REFUND_CONTENT_TYPE

ROUTE = "POST /api/pay1st/transactions/refunds/create"


def client_for(sandbox: Any) -> Pay1stClient:
    return Pay1stClient(ClientConfig(base_url=sandbox.base_url, pay_url=sandbox.base_url), CREDENTIALS)


def paid_payment(client: Pay1stClient, sandbox: Any, partner_reference: str) -> str:
    created = client.create_payment(
        PaymentRequest(
            amount=Decimal("250.50"),
            country_code="ZA",
            currency_code="ZAR",
            partner_reference=partner_reference,
            products=(Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
            metadata=(MetadataItem("playerId", "p-42"),),
        )
    )
    sandbox.control.settle(created.reference, "pay")
    return created.reference


def test_the_refund_row_is_signed_and_never_blindly_repeated() -> None:
    assert CREATE_REFUND in OPERATIONS
    assert CREATE_REFUND.path == "/api/pay1st/transactions/refunds/create"
    assert (
        CREATE_REFUND.content_type == REFUND_CONTENT_TYPE == "application/vnd.carry1st.payments.refund+json"
    )
    assert CREATE_REFUND.signed and CREATE_REFUND.outcome_unknown_if_lost and CREATE_REFUND.method == "POST"


def test_a_refund_request_is_written_with_exact_digits_and_only_the_fields_given() -> None:
    request = RefundRequest(
        "C-1-P", "refund-1", Decimal("10.50"), reason="late", refund_webhook_url="https://x/y"
    )
    assert request.to_json_bytes() == (
        b'{"transactionReference":"C-1-P","partnerRefundReference":"refund-1","amount":10.50,'
        b'"reason":"late","refundWebhookUrl":"https://x/y"}'
    )
    assert RefundRequest("C-1-P", "refund-2").to_json_bytes() == (
        b'{"transactionReference":"C-1-P","partnerRefundReference":"refund-2"}'
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("-1")}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"partner_refund_reference": " "}, "partnerRefundReference"),
        ({"transaction_reference": ""}, "transactionReference"),
        ({"refund_webhook_url": "ftp://x"}, "refundWebhookUrl"),
    ],
)
def test_a_bad_refund_request_names_its_field(fields: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {
        "transaction_reference": "C-1-P",
        "partner_refund_reference": "r-1",
        **fields,
    }
    with pytest.raises(ValidationError) as error:
        RefundRequest(**arguments)
    assert error.value.field == field


def test_refund_webhook_events_keep_unknown_fields_and_need_the_references() -> None:
    event = RefundWebhookEvent.from_json(
        b'{"partnerRefundReference":"r-1","transactionReference":"C-1-P","status":"PROCESSING",'
        b'"amount":10.50,"extra":{"a":1}}'
    )
    assert (event.status, event.amount, event.refund_reference) == ("PROCESSING", Decimal("10.50"), None)
    assert event.raw["extra"] == {"a": 1}
    with pytest.raises(ValidationError):
        RefundWebhookEvent.from_json(b'{"transactionReference":"C-1-P","status":"PENDING"}')
    assert RefundStatus.OPEN_STATUSES | RefundStatus.FINAL_STATUSES == RefundStatus.KNOWN_STATUSES


def test_create_refund_against_the_sandbox(sandbox: Any) -> None:
    # Given a paid payment
    client = client_for(sandbox)
    reference = paid_payment(client, sandbox, "layer-refund-1")
    # When a partial refund is requested
    created = client.create_refund(RefundRequest(reference, "layer-r-1", Decimal("20.25"), reason="goodwill"))
    # Then the sandbox accepted our signature and answered PENDING
    assert isinstance(created, CreatedRefund)
    assert (created.status, created.amount, created.currency_code) == ("PENDING", Decimal("20.25"), "ZAR")
    assert created.transaction_reference == reference and created.partner_refund_reference == "layer-r-1"
    assert created.handling_type == "PSP_API" and created.full_refund is False
    (received,) = sandbox.control.refunds_received()
    assert received["signatureValid"] is True
    # And the same partnerRefundReference again is refused: it can never refund twice
    with pytest.raises(InvalidRequestError) as error:
        client.create_refund(RefundRequest(reference, "layer-r-1", Decimal("20.25")))
    assert error.value.error_code == "DUPLICATE_PARTNER_REFUND_REFERENCE"
    assert len(sandbox.control.refunds()) == 1


def test_a_lost_refund_answer_is_an_unknown_outcome_and_is_not_repeated(sandbox: Any) -> None:
    client = client_for(sandbox)
    reference = paid_payment(client, sandbox, "layer-refund-2")
    sandbox.control.set_faults(rate_5xx={ROUTE: 1.0})
    with pytest.raises(OutcomeUnknownError):
        client.create_refund(RefundRequest(reference, "layer-r-2"))
    assert sandbox.control.counters()[ROUTE] == 1
