"""A scripted Pay1st gateway on loopback (real HTTP, real sockets) and a controllable clock.

The fake gateway answers every operation of the contract with a plausible default, records every
request exactly as received (headers and raw body bytes), and lets a test script replies per route:
a status and body, a delay (to force read timeouts) or a dropped connection.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st.tokens import InMemoryTokenStore, TokenStore

CREDENTIALS = Credentials(
    api_key="pk_sandbox_local",
    api_secret="sk_sandbox_local_secret",
    signing_key="sk_sandbox_7Qm2vXr9Lp4Tn8Wc",
)

TOKEN = "POST /api/pay1st/auth/token"
REFRESH = "POST /api/pay1st/auth/refresh"
METHODS = "GET /api/pay1st/payments/methods"
CREATE = "POST /api/pay1st/payments/create"
STATUS = "GET /api/pay1st/payments"
FULFILMENT = "POST /api/pay1st/payments/fulfilments"

# §6 example, with requiredParameters encoded as a string as the contract says.
METHODS_DOCUMENT: dict[str, Any] = {
    "data": {
        "groups": [
            {
                "id": 1,
                "name": "Cards",
                "imageLocation": "https://img.example/cards.png",
                "channels": [
                    {
                        "id": 101,
                        "paymentOption": {"id": 7, "name": "Card", "code": "CARD", "status": "ACTIVE"},
                        "channel": {
                            "id": 55,
                            "name": "Visa/Mastercard",
                            "code": "CARD_ZA",
                            "paymentMethod": "CARD",
                            "status": "ACTIVE",
                            "channelCode": "card-za",
                            "imageLocation": "https://img.example/visa.png",
                        },
                        "paymentMethodType": {
                            "id": 3,
                            "name": "Card",
                            "code": "CARD",
                            "requiredParameters": '{"fields":[{"name":"email","type":"string","min":2.5}]}',
                        },
                    },
                    {
                        "id": 102,
                        "paymentOption": {"id": 8, "name": "EFT", "code": "EFT", "status": "SUSPENDED"},
                        "channel": {"id": 56, "name": "Instant EFT", "code": "EFT_ZA", "status": "SUSPENDED"},
                        "paymentMethodType": {
                            "id": 4,
                            "name": "Bank",
                            "code": "EFT",
                            "requiredParameters": "{}",
                        },
                    },
                ],
            }
        ]
    }
}


@dataclass
class Reply:
    """One scripted answer. ``drop`` closes the connection without answering; ``delay`` waits first."""

    status: int = 200
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    echo: bool = False  # a careless gateway: put the request's headers and body into errorMessage


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} sent {len(values)} times"
        return values[0] if values else None

    def header_names(self) -> set[str]:
        return {key for key, _ in self.headers}


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog of 5 drops SYNs when 20 clients connect at once


class FakeGateway:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.scripts: dict[str, deque[Reply]] = {}
        self.valid_tokens: set[str] = set()
        self.check_tokens = True
        self.token_delay = 0.0
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def _handle(self) -> None:
                gateway._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    def start(self) -> FakeGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    # --- test API -----------------------------------------------------------------------------------

    def script(self, route: str, *replies: Reply) -> None:
        with self._lock:
            self.scripts.setdefault(route, deque()).extend(replies)

    def requests_to(self, route: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.route == route]

    def count(self, route: str) -> int:
        return len(self.requests_to(route))

    def revoke_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    # --- serving ------------------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        recorded = Recorded(
            handler.command, split.path, parse_qs(split.query), list(handler.headers.items()), body
        )
        with self._lock:
            self.requests.append(recorded)
            queue = self.scripts.get(recorded.route)
            reply = queue.popleft() if queue else None
        if reply is None:
            reply = self._default(recorded)
        if reply.delay:
            self._stopping.wait(reply.delay)
        if reply.drop:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.echo:
            # The secrets first: errorMessage is truncated when it is long.
            sensitive = [recorded.header(n) for n in ("AccessToken", "X-SIGNATURE", "Authorization")]
            echoed = f"rejected {sensitive!r} {recorded.body[:100]!r}"
            reply.body = {"errorCode": "ECHO", "errorMessage": echoed, "sessionId": "s-echo"}
        payload = (
            reply.body
            if isinstance(reply.body, bytes)
            else json.dumps(reply.body).encode()
            if reply.body
            else b""
        )
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _issue(self) -> Reply:
        if self.token_delay:
            self._stopping.wait(self.token_delay)
        with self._lock:
            self.tokens_issued += 1
            number = self.tokens_issued
            access = f"access-token-value-{number}-zz9"
            self.valid_tokens.add(access)
        return Reply(
            200, {"role": "API_USER", "accessToken": access, "refreshToken": f"refresh-token-value-{number}"}
        )

    def _default(self, request: Recorded) -> Reply:
        if request.route in (TOKEN, REFRESH):
            return self._issue()
        if self.check_tokens:
            token = (request.header("AccessToken") or "").removeprefix("Bearer ")
            with self._lock:
                valid = token in self.valid_tokens
            if not valid:
                return Reply(
                    401, {"errorCode": "UNAUTHORIZED", "errorMessage": "bad token", "sessionId": "s-401"}
                )
        if request.route == CREATE:
            sent = json.loads(request.body)
            return Reply(
                201,
                {
                    "reference": "C-113976984708914-P",
                    "partnerReference": sent["partnerReference"],
                    "countryCode": sent["countryCode"],
                    "currencyCode": sent["currencyCode"],
                    "amount": sent["amount"],
                    "status": "NEW",
                },
            )
        if request.route == METHODS:
            return Reply(200, METHODS_DOCUMENT)
        if request.route == STATUS:
            return Reply(200, status_document(request.query["reference"][0]))
        if request.route == FULFILMENT:
            return Reply(200, b"")
        return Reply(404, {"errorCode": "NOT_FOUND", "errorMessage": "no such route", "sessionId": "s-404"})


def status_document(reference: str, status: str = "SUCCESSFUL") -> dict[str, Any]:
    """A §9 response: the create request echoed, plus reference, status, partnerSettings, channel."""
    return {
        "countryCode": "ZA",
        "currencyCode": "ZAR",
        "amount": 250.50,
        "partnerReference": "order-1001",
        "products": [
            {"title": "500 Gems", "sku": "GEM-500", "price": 250.50, "quantity": 1, "currencyCode": "ZAR"}
        ],
        "metadata": [{"key": "playerId", "value": "p-42"}],
        "reference": reference,
        "status": status,
        "partnerSettings": {
            "partnerId": 9001,
            "webhookUrl": "https://api.example.com/webhooks/pay1st",
            "successCallbackUrl": "https://api.example.com/callbacks/success",
            "failureCallbackUrl": "https://api.example.com/callbacks/failure",
            "pendingCallbackUrl": "https://api.example.com/callbacks/pending",
            "cancelCallbackUrl": "https://api.example.com/callbacks/cancel",
        },
        "channelId": 101,
        "channelName": "Visa/Mastercard",
    }


class FakeClock:
    """Wall clock + monotonic clock that only move when slept on (or advanced) by the test."""

    def __init__(self, start: float = 1_768_473_000.0) -> None:
        self.now = start
        self.mono = 1_000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


class MaxRandom:
    """Jitter pinned at the top of its range, so backoff delays are exactly the caps."""

    def random(self) -> float:
        return 1.0


def make_client(
    gateway: FakeGateway,
    clock: FakeClock | None = None,
    store: TokenStore | None = None,
    **config: Any,
) -> Pay1stClient:
    settings: dict[str, Any] = {
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    }
    settings.update(config)
    cfg = ClientConfig(base_url=gateway.base_url, pay_url="https://pay.example.com", **settings)
    if clock is None:
        return Pay1stClient(cfg, CREDENTIALS, store or InMemoryTokenStore())
    return Pay1stClient(
        cfg,
        CREDENTIALS,
        store or InMemoryTokenStore(clock=clock.time),
        clock=clock.time,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rng=MaxRandom(),
    )
