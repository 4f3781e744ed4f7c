"""PaymentMethodsCache (per-country TTL, bounded, stale copy on failure) and an unreadable gateway answer."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st_partner.errors import GatewayRejected
from pay1st_partner.payments.methods import (
    MAX_COUNTRIES,
    STALE_IF_ERROR_SECONDS,
    PaymentMethodsCache,
    list_payment_methods,
)

from tests.loopback import serve_in_background


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fresh_within_ttl_then_only_stale():
    clock = Ticker()
    cache = PaymentMethodsCache(60, clock=clock)
    cache.put("ZA", {"countryCode": "ZA"})
    assert cache.fresh("ZA") == {"countryCode": "ZA"}
    clock.now += 60
    assert cache.fresh("ZA") is None
    assert cache.stale("ZA") == {"countryCode": "ZA"}
    clock.now += STALE_IF_ERROR_SECONDS
    assert cache.stale("ZA") is None


def test_is_per_country_and_bounded():
    clock = Ticker()
    cache = PaymentMethodsCache(10_000, clock=clock)
    for index in range(MAX_COUNTRIES + 5):
        clock.now += 1
        cache.put(f"C{index}", {"n": index})
    assert cache.fresh("C0") is None  # the oldest entries made room
    assert cache.fresh(f"C{MAX_COUNTRIES + 4}") == {"n": MAX_COUNTRIES + 4}
    assert sum(cache.fresh(f"C{i}") is not None for i in range(MAX_COUNTRIES + 5)) == MAX_COUNTRIES


class _GarbageGateway(BaseHTTPRequestHandler):
    """Issues tokens, then answers the methods list with a 200 that is not the documented document."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(b'{"accessToken": "access-1", "refreshToken": "refresh-1"}')

    def do_GET(self) -> None:
        self._answer(b'{"unexpected": true}')

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def garbage_gateway() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GarbageGateway)
    serve_in_background(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreadable_answer_is_a_gateway_rejection_and_not_cached(garbage_gateway):
    base = garbage_gateway
    client = Pay1stClient(ClientConfig(base_url=base, pay_url=base), Credentials("key", "secret", "signing"))
    cache = PaymentMethodsCache(60)

    with pytest.raises(GatewayRejected, match="unreadable payment methods list") as caught:
        list_payment_methods("ZA", gateway=client, cache=cache)

    assert caught.value.http_status == 502
    assert cache.stale("ZA") is None
