"""The client over real loopback HTTP: each attempt signed afresh (checked by the local stack's verifier),
retried with the same reference on 5xx and connection failures, typed results, errors as exceptions."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.credentials import Credentials
from local_stack.aws import REGION
from local_stack.sigv4 import SignedRequest, verify
from pay1st_partner_client import (
    BearerAuth,
    ConnectionFailed,
    GatewayRejected,
    PartnerClient,
    PaymentConflict,
    Product,
    SigV4Auth,
)
from werkzeug.datastructures import Headers
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.loopback import serve_in_background

KEY, SECRET = "AKIATESTPARTNER00001", "test-secret"
CREATED = {
    "partnerReference": "order-1",
    "reference": "C-1-P",
    "status": "NEW",
    "amount": "250.50",
    "currencyCode": "ZAR",
    "countryCode": "ZA",
    "checkoutUrl": "http://pay/checkout?x",
}


@dataclass
class Scripted:
    """Answers the scripted (status, body) in turn, keeping every request it got."""

    answers: list[tuple[int, Any]]
    seen: list[SignedRequest] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.seen.append(
            SignedRequest(
                request.method,
                f"http://{request.host}{environ['RAW_URI']}",
                Headers(request.headers),
                request.get_data(),
            )
        )
        status, body = self.answers.pop(0)
        return Response(json.dumps(body), status, content_type="application/json")(environ, start_response)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers = []

    def start(*answers: tuple[int, Any]) -> tuple[str, Scripted]:
        app = Scripted(list(answers))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serve_in_background(server)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", app

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client(base_url: str, sleeps: list[float]) -> PartnerClient:
    auth = SigV4Auth(REGION, credentials=Credentials(KEY, SECRET))
    return PartnerClient(base_url, auth, sleep=sleeps.append, max_attempts=3)


def create(partner: PartnerClient) -> Any:
    return partner.create_payment(
        "order-1",
        amount="250.50",
        currency_code="ZAR",
        country_code="ZA",
        products=[Product("500 Gems", "GEM-500", "250.50", 1)],
    )


def test_create_is_retried_on_5xx_with_the_same_reference_and_a_fresh_signature(serve: Any) -> None:
    # Given an API that fails twice (gateway unavailable, then API Gateway's 503), then creates
    base_url, app = serve(
        (502, {"code": "gateway_unavailable", "message": "try again"}),
        (503, {"message": "Service Unavailable"}),
        (201, CREATED),
    )
    sleeps: list[float] = []
    # When the partner creates the payment
    payment = create(client(base_url, sleeps))
    # Then it gets the payment, after three attempts carrying the same order, each validly signed
    assert (payment.partner_reference, payment.reference, str(payment.amount)) == (
        "order-1",
        "C-1-P",
        "250.50",
    )
    assert len(app.seen) == 3 and len(sleeps) == 2
    assert {json.loads(seen.body)["partnerReference"] for seen in app.seen} == {"order-1"}
    assert {seen.body for seen in app.seen} == {app.seen[0].body}
    for seen in app.seen:
        assert verify(seen, {KEY: SECRET}, REGION) == KEY


def test_a_final_error_is_raised_at_once_as_its_exception(serve: Any) -> None:
    base_url, app = serve((502, {"code": "gateway_rejected", "message": "credentials refused"}))
    with pytest.raises(GatewayRejected) as raised:
        create(client(base_url, []))
    assert raised.value.status == 502 and raised.value.message == "credentials refused"
    assert len(app.seen) == 1


def test_a_conflict_is_not_retried(serve: Any) -> None:
    base_url, app = serve((409, {"code": "payment_conflict", "message": "different amount"}))
    with pytest.raises(PaymentConflict):
        create(client(base_url, []))
    assert len(app.seen) == 1


def test_connection_failures_are_retried_then_raised() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(ConnectionFailed):
        client(f"http://127.0.0.1:{port}", sleeps).get_payment("order-1")
    assert len(sleeps) == 2


def test_bearer_auth_and_typed_reads(serve: Any) -> None:
    methods = {
        "countryCode": "NG",
        "groups": [{"id": 1}],
        "channels": [{"id": 7, "name": "Card", "code": "CARD", "paymentMethodType": "CARD", "active": True}],
    }
    base_url, app = serve((200, methods), (200, {**CREATED, "status": "SUCCESSFUL", "checkoutUrl": None}))
    partner = PartnerClient(base_url, BearerAuth(lambda: "tok-1"))
    found = partner.payment_methods("NG")
    assert found.country_code == "NG" and found.channels[0].id == "7" and found.channels[0].active
    assert partner.get_payment("order/1 x").status == "SUCCESSFUL"
    assert app.seen[0].url.endswith("/payment-methods?countryCode=NG")
    assert app.seen[1].url.endswith("/payments/order%2F1%20x")
    assert {seen.headers["Authorization"] for seen in app.seen} == {"Bearer tok-1"}
