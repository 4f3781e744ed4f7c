"""``PartnerClient.refund`` over real loopback HTTP: the identical request on every attempt (so a retry, also
after ``refund_outcome_unknown``, can never refund twice), typed results, the refund error codes as exceptions,
and the refund fields of ``get_payment``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from botocore.credentials import Credentials
from local_stack.aws import REGION
from local_stack.sigv4 import SignedRequest, verify
from pay1st_partner_client import (
    AmountExceedsRefundable,
    InvalidRequest,
    PartnerClient,
    PaymentNotRefundable,
    RefundConflict,
    RefundOutcomeUnknown,
    SigV4Auth,
)
from werkzeug.datastructures import Headers
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.loopback import serve_in_background

KEY, SECRET = "AKIATESTPARTNER00001", "test-secret"
REFUND = {
    "refundReference": "refund-1",
    "partnerReference": "order-1",
    "pay1stRefundReference": "R-421361797265172",
    "amount": "10.00",
    "currencyCode": "ZAR",
    "status": "PENDING",
    "handlingType": "PSP_API",
    "reason": "customer request",
    "createdAt": "2026-12-02T00:04:19.039Z",
    "updatedAt": "2026-12-02T00:04:19.249Z",
}
UNKNOWN = (502, {"code": "refund_outcome_unknown", "message": "Repeating this same request is safe."})


@dataclass
class Scripted:
    """Answers the scripted (status, body, headers) in turn, keeping every request it got."""

    answers: list[tuple[int, Any, dict[str, str]]]
    seen: list[SignedRequest] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        url = f"http://{request.host}{environ['RAW_URI']}"
        self.seen.append(SignedRequest(request.method, url, Headers(request.headers), request.get_data()))
        status, body, headers = self.answers.pop(0)
        response = Response(json.dumps(body), status, headers, content_type="application/json")
        return response(environ, start_response)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers = []

    def start(*answers: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> tuple[PartnerClient, Scripted]:
        app = Scripted([(a[0], a[1], a[2] if len(a) == 3 else {}) for a in answers])  # type: ignore[misc]
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serve_in_background(server)
        servers.append(server)
        auth = SigV4Auth(REGION, credentials=Credentials(KEY, SECRET))
        return PartnerClient(f"http://127.0.0.1:{server.server_port}", auth, sleep=lambda _: None), app

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_an_unknown_outcome_is_retried_as_the_identical_request_then_answered(serve: Any) -> None:
    # Given an API whose first answers leave the refund's outcome unknown, then answers the refund
    partner, app = serve(
        UNKNOWN, (503, {"message": "Service Unavailable"}), (201, REFUND, {"Idempotent-Replayed": "true"})
    )
    # When the partner refunds 10.00 of order-1
    refund = partner.refund("order-1", "refund-1", amount=Decimal("10.00"), reason="customer request")
    # Then every attempt was the same request (same reference, same amount), each signed afresh
    assert len(app.seen) == 3
    assert {seen.body for seen in app.seen} == {app.seen[0].body}
    assert json.loads(app.seen[0].body) == {
        "refundReference": "refund-1",
        "amount": "10.00",
        "reason": "customer request",
    }
    assert {seen.url.rsplit("/", 3)[-3:] == ["payments", "order-1", "refunds"] for seen in app.seen} == {True}
    for seen in app.seen:
        assert verify(seen, {KEY: SECRET}, REGION) == KEY
    # And the answer is typed
    assert (refund.refund_reference, refund.amount, refund.status, refund.handling_type) == (
        "refund-1",
        Decimal("10.00"),
        "PENDING",
        "PSP_API",
    )
    assert refund.pay1st_refund_reference == "R-421361797265172" and refund.replayed


def test_an_outcome_still_unknown_after_the_retries_is_raised_to_repeat_the_same_request(serve: Any) -> None:
    partner, app = serve(UNKNOWN, UNKNOWN, UNKNOWN)
    with pytest.raises(RefundOutcomeUnknown) as raised:
        partner.refund("order-1", "refund-all")
    assert (raised.value.status, raised.value.code) == (502, "refund_outcome_unknown")
    # "All that is refundable" stays that request on every attempt: no amount is ever filled in
    assert [json.loads(seen.body) for seen in app.seen] == [{"refundReference": "refund-all"}] * 3


def test_a_refund_still_in_progress_is_asked_again(serve: Any) -> None:
    partner, app = serve((409, {"code": "refund_in_progress", "message": "retry shortly"}), (201, REFUND))
    refund = partner.refund("order-1", "refund-1", amount="10.00")
    assert refund.status == "PENDING" and not refund.replayed and len(app.seen) == 2


@pytest.mark.parametrize(
    ("status", "code", "raised"),
    [
        (409, "refund_conflict", RefundConflict),
        (409, "payment_not_refundable", PaymentNotRefundable),
        (400, "amount_exceeds_refundable", AmountExceedsRefundable),
    ],
)
def test_refusals_are_raised_at_once_as_their_exceptions(
    serve: Any, status: int, code: str, raised: type[Exception]
) -> None:
    partner, app = serve((status, {"code": code, "message": "m"}))
    with pytest.raises(raised):
        partner.refund("order-1", "refund-1", amount="999")
    assert len(app.seen) == 1


def test_too_much_is_also_an_invalid_request() -> None:
    assert issubclass(AmountExceedsRefundable, InvalidRequest)


def test_get_payment_carries_the_refunds_their_totals_and_a_chargeback(serve: Any) -> None:
    payment = {
        "partnerReference": "order-1",
        "reference": "C-1-P",
        "status": "SUCCESSFUL",
        "amount": "250.50",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "refunds": [{**REFUND, "status": "SUCCESSFUL"}],
        "refundedAmount": "10.00",
        "refundableAmount": "0.00",
        "chargeback": {"status": "CHARGEBACK", "recordedAt": "2026-12-02T00:05:00.000Z"},
    }
    partner, _ = serve(
        (200, payment), (200, {**payment, "status": "NEW", "refunds": None, "chargeback": None})
    )
    paid = partner.get_payment("order-1")
    (refund,) = paid.refunds
    assert (refund.refund_reference, refund.status, refund.amount) == (
        "refund-1",
        "SUCCESSFUL",
        Decimal("10.00"),
    )
    assert (paid.refunded_amount, paid.refundable_amount) == (Decimal("10.00"), Decimal("0.00"))
    assert paid.chargeback is not None and paid.chargeback.status == "CHARGEBACK" and paid.full_refund is None
    unpaid = partner.get_payment("order-1")
    assert unpaid.refunds == () and unpaid.chargeback is None


def test_get_payment_carries_its_attempts(serve: Any) -> None:
    payment = {
        "partnerReference": "order-1",
        "reference": "C-2-P",
        "status": "SUCCESSFUL",
        "amount": "250.50",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "attempts": [
            {
                "attemptReference": "order-1",
                "current": False,
                "reference": None,
                "paid": False,
                "supersededAt": "2026-12-02T00:01:00.000Z",
            },
            {"attemptReference": "order-1..2", "current": True, "reference": "C-2-P", "paid": True},
        ],
        "doublePaid": False,
    }
    partner, _ = serve((200, payment), (200, {**payment, "attempts": None, "doublePaid": None}))
    paid = partner.get_payment("order-1")
    assert [(a.attempt_reference, a.current, a.paid, a.reference) for a in paid.attempts] == [
        ("order-1", False, False, None),
        ("order-1..2", True, True, "C-2-P"),
    ]
    assert paid.attempts[0].superseded_at == "2026-12-02T00:01:00.000Z" and paid.double_paid is False
    single = partner.get_payment("order-1")
    assert single.attempts == () and single.double_paid is False
