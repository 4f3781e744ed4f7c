"""Shared by the inbound function tests (webhook intake, payment status, status poller).

``ApiBridge`` plays API Gateway on loopback: each real HTTP request becomes an HTTP API (payload 2.0) event
for a function's ``lambda_handler``, and the handler's answer goes back as the HTTP response. The Pay1st
sandbox then delivers its real, signed webhooks over HTTP to the real handler.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pay1st.models import MetadataItem, PaymentRequest, Product
from pay1st_partner import runtime
from pay1st_partner.fingerprints import fingerprint
from pay1st_partner.records import PaymentRecord

from tests.conftest import FakeLambdaContext, build_http_event
from tests.loopback import serve_in_background

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class ApiBridge:
    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, str, int]] = []
        bridge = self

        class _Request(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bridge._serve(self, "POST")

            def do_GET(self) -> None:
                bridge._serve(self, "GET")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Request)
        # stop() waits for requests still being handled: moto's state outlives the test (tests/moto_world.py),
        # so a late handler must not write into the next test's world.
        self._server.daemon_threads = False

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        serve_in_background(self._server)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = request.path.split("?", 1)[0]
        handler = self.routes.get((method, path))
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        if handler is None:
            status, headers, payload = 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        else:
            try:
                text: str | bytes = body.decode("utf-8")
            except UnicodeDecodeError:
                text = body  # binary bodies arrive base64-encoded, as API Gateway does it
            event = build_http_event(
                method,
                path,
                body=text if body else None,
                headers={k.lower(): v for k, v in request.headers.items()},
            )
            raw = handler(event, FakeLambdaContext())
            status = raw["statusCode"]
            headers = dict(raw.get("headers") or {})
            payload = raw.get("body", "") or ""
            payload = base64.b64decode(payload) if raw.get("isBase64Encoded") else payload.encode("utf-8")
        self.calls.append((method, path, status))
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)


@contextmanager
def api_bridge(routes: dict[tuple[str, str], Handler]) -> Iterator[ApiBridge]:
    bridge = ApiBridge(routes)
    bridge.start()
    try:
        yield bridge
    finally:
        bridge.stop()


@dataclass
class Result:
    status: int
    body: Any
    headers: dict[str, str]


def call(handler: Handler, event: dict[str, Any], context: Any = None) -> Result:
    raw = handler(event, context or FakeLambdaContext())
    text = raw.get("body") or ""
    return Result(raw["statusCode"], json.loads(text) if text else None, dict(raw.get("headers") or {}))


def create_at_sandbox(
    partner_reference: str, *, webhook_url: str | None = None, amount: str = "250.50"
) -> PaymentRecord:
    """Given a payment created at the Pay1st sandbox by the gateway client and recorded NEW by us."""
    request = PaymentRequest(
        amount=Decimal(amount),
        country_code="ZA",
        currency_code="ZAR",
        partner_reference=partner_reference,
        products=(
            Product(title="500 Gems", sku="GEM-500", price=Decimal(amount), quantity=1, currency_code="ZAR"),
        ),
        metadata=(MetadataItem(key="playerId", value="p-42"),),
        webhook_url=webhook_url,
    )
    payments = runtime.payments()
    assert payments.claim(request, fingerprint(request), None).created
    created = runtime.gateway().create_payment(request)
    return payments.mark_created(partner_reference, created)


def route_count(sandbox: Any, route: str) -> int:
    return int(sandbox.control.counters().get(route, 0))


STATUS_QUERY_ROUTE = "GET /api/pay1st/payments"
