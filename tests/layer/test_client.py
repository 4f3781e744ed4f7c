"""Pay1stClient against a real loopback HTTP server: headers, retries, deadlines, unknown outcomes, 401."""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from layer_fakes import (
    CREATE,
    CREDENTIALS,
    FULFILMENT,
    METHODS,
    REFRESH,
    STATUS,
    TOKEN,
    FakeClock,
    FakeGateway,
    Reply,
    make_client,
)
from pay1st.client import ClientConfig, Pay1stClient
from pay1st.errors import (
    AuthenticationError,
    GatewayServerError,
    InvalidRequestError,
    OutcomeUnknownError,
    Pay1stConnectionError,
    RateLimitError,
    UnexpectedResponseError,
    ValidationError,
)
from pay1st.models import FulfilmentItem, PaymentRequest, Product
from pay1st.retry import deadline_after
from pay1st.signing import parse_timestamp, sign

AUTH_CT = "application/vnd.carry1st.payments.partnerauthentication+json"
CHANNEL_CT = "application/vnd.carry1st.payments.paymentchannel+json"
PAYMENT_CT = "application/vnd.carry1st.payments.payment+json"
ERROR = {"errorMessage": "Too many requests", "errorCode": "RATE_LIMITED", "sessionId": "sess-9"}
ITEM = FulfilmentItem("GEM-500", 1, datetime(2026, 1, 15, 10, 35, tzinfo=UTC))


def payment(reference: str = "order-1001") -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal("250.50"),
        country_code="ZA",
        currency_code="ZAR",
        partner_reference=reference,
        products=(Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- headers and content types per operation --------------------------------------------------------


def test_generate_token_headers_and_body(gateway: FakeGateway) -> None:
    token = make_client(gateway).generate_token()
    [request] = gateway.requests_to(TOKEN)
    assert request.header("Content-Type") == AUTH_CT
    expected = base64.b64encode(b"pk_sandbox_local:sk_sandbox_local_secret").decode()
    assert request.header("Authorization") == f"Basic {expected}"
    assert json.loads(request.body) == {"role": "API_USER"}
    assert request.header("AccessToken") is None and request.header("X-SIGNATURE") is None
    assert token.access_token == "access-token-value-1-zz9" and token.refresh_token == "refresh-token-value-1"


def test_refresh_token_headers_and_body(gateway: FakeGateway) -> None:
    make_client(gateway).refresh_token("refresh-abc")
    [request] = gateway.requests_to(REFRESH)
    assert request.header("Content-Type") == AUTH_CT
    assert request.header("Accept") == AUTH_CT
    assert json.loads(request.body) == {"role": "API_USER", "refreshToken": "refresh-abc"}


def test_list_payment_methods_request(gateway: FakeGateway) -> None:
    methods = make_client(gateway).list_payment_methods("ZA")
    [request] = gateway.requests_to(METHODS)
    assert request.query == {"countryCode": ["ZA"]}
    assert request.header("Content-Type") == CHANNEL_CT
    assert request.header("AccessToken") == "Bearer access-token-value-1-zz9"
    assert request.header("Authorization") is None
    assert request.header("X-SIGNATURE") is None and request.body == b""  # no body, nothing to sign
    assert methods.channel(101) is not None


def test_list_payment_methods_validates_the_country_before_sending(gateway: FakeGateway) -> None:
    with pytest.raises(ValidationError):
        make_client(gateway).list_payment_methods("South Africa")
    assert gateway.requests == []


def test_create_payment_request(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    created = client.create_payment(payment())
    [request] = gateway.requests_to(CREATE)
    assert request.header("Content-Type") == PAYMENT_CT
    assert request.header("AccessToken") == "Bearer access-token-value-1-zz9"
    timestamp = request.header("X-TIMESTAMP")
    assert (
        timestamp is not None
        and timestamp.endswith("Z")
        and len(timestamp) == len("2026-01-15T10:30:00.000Z")
    )
    assert abs(parse_timestamp(timestamp).timestamp() - time.time()) < 60
    assert request.header("X-SIGNATURE") == sign(CREDENTIALS.signing_key, timestamp, request.body)
    assert created.reference == "C-113976984708914-P" and created.amount == Decimal("250.50")


def test_get_payment_request(gateway: FakeGateway) -> None:
    details = make_client(gateway).get_payment("C-113976984708914-P")
    [request] = gateway.requests_to(STATUS)
    assert request.query == {"reference": ["C-113976984708914-P"]}
    assert request.header("Content-Type") == PAYMENT_CT
    assert request.header("AccessToken") == "Bearer access-token-value-1-zz9"
    assert request.header("X-SIGNATURE") is None
    assert details.status == "SUCCESSFUL" and details.reference == "C-113976984708914-P"


def test_notify_fulfilment_request(gateway: FakeGateway) -> None:
    assert make_client(gateway).notify_fulfilment("C-1-P", [ITEM]) is None
    [request] = gateway.requests_to(FULFILMENT)
    assert request.header("Content-Type") == PAYMENT_CT
    assert request.header("AccessToken") == "Bearer access-token-value-1-zz9"
    assert request.header("X-SIGNATURE") and request.header("X-TIMESTAMP")


def test_checkout_url_uses_the_current_token(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    url = client.checkout_url("C-1-P", channel_id=101)
    split = urlsplit(url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == "https://pay.example.com/checkout"
    assert parse_qs(split.query) == {
        "channelId": ["101"],
        "reference": ["C-1-P"],
        "accessToken": ["access-token-value-1-zz9"],
    }
    assert "channelId" not in client.checkout_url("C-1-P")
    assert gateway.count(TOKEN) == 1  # the token is reused, not fetched per link


def test_token_is_reused_across_calls(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    for _ in range(5):
        client.get_payment("C-1-P")
    assert gateway.count(TOKEN) == 1 and gateway.count(STATUS) == 5


# --- retries ----------------------------------------------------------------------------------------


def test_429_and_5xx_are_retried_with_backoff(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(STATUS, Reply(429, ERROR), Reply(500), Reply(502, b"<html>bad gateway</html>"))
    client = make_client(gateway, clock, backoff_base=0.2, backoff_cap=3.0)
    assert client.get_payment("C-1-P").status == "SUCCESSFUL"
    assert gateway.count(STATUS) == 4
    assert clock.sleeps == pytest.approx([0.2, 0.4, 0.8])  # jitter pinned at its maximum


def test_retry_after_is_honoured_up_to_the_cap(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(
        STATUS, Reply(429, ERROR, headers={"Retry-After": "2"}), Reply(429, headers={"Retry-After": "60"})
    )
    make_client(gateway, clock, backoff_base=0.1, backoff_cap=3.0).get_payment("C-1-P")
    assert clock.sleeps == pytest.approx([2.0, 3.0])


def test_retries_stop_after_max_attempts(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(STATUS, *[Reply(429, ERROR)] * 5)
    with pytest.raises(RateLimitError) as caught:
        make_client(gateway, clock, max_attempts=3).get_payment("C-1-P")
    assert gateway.count(STATUS) == 3
    assert caught.value.session_id == "sess-9" and caught.value.error_code == "RATE_LIMITED"


@pytest.mark.parametrize("status", [400, 403, 404, 405])
def test_client_errors_are_not_retried(gateway: FakeGateway, clock: FakeClock, status: int) -> None:
    gateway.script(STATUS, Reply(status, {"errorCode": "E", "errorMessage": "no", "sessionId": "s-1"}))
    with pytest.raises((InvalidRequestError, AuthenticationError)) as caught:
        make_client(gateway, clock).get_payment("C-1-P")
    assert caught.value.status == status and caught.value.session_id == "s-1"
    assert gateway.count(STATUS) == 1 and clock.sleeps == []


def test_connection_refused_is_retried_then_raised(clock: FakeClock) -> None:
    config = ClientConfig(f"http://127.0.0.1:{closed_port()}", "https://pay.example.com", max_attempts=3)
    client = Pay1stClient(config, CREDENTIALS, clock=clock.time, sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(Pay1stConnectionError) as caught:
        client.generate_token()
    assert type(caught.value) is Pay1stConnectionError
    assert len(clock.sleeps) == 2


def test_dropped_connection_is_retried_for_a_safe_operation(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(STATUS, Reply(drop=True))
    assert make_client(gateway, clock).get_payment("C-1-P").status == "SUCCESSFUL"
    assert gateway.count(STATUS) == 2


def test_fulfilment_is_retried_on_5xx(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(FULFILMENT, Reply(500), Reply(504))
    make_client(gateway, clock).notify_fulfilment("C-1-P", [ITEM])
    assert gateway.count(FULFILMENT) == 3


def test_token_endpoint_is_retried(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(TOKEN, Reply(503), Reply(429))
    assert make_client(gateway, clock).generate_token().access_token
    assert gateway.count(TOKEN) == 3


def test_retried_attempts_are_signed_afresh_over_the_same_bytes(
    gateway: FakeGateway, clock: FakeClock
) -> None:
    gateway.script(FULFILMENT, Reply(503))
    make_client(gateway, clock, backoff_base=1.0, backoff_cap=1.0).notify_fulfilment("C-1-P", [ITEM])
    first, second = gateway.requests_to(FULFILMENT)
    assert first.body == second.body
    assert first.header("X-TIMESTAMP") != second.header("X-TIMESTAMP")  # the clock moved by the backoff
    for request in (first, second):
        timestamp = request.header("X-TIMESTAMP")
        assert timestamp is not None
        assert request.header("X-SIGNATURE") == sign(CREDENTIALS.signing_key, timestamp, request.body)


# --- deadlines --------------------------------------------------------------------------------------


def test_backoff_never_sleeps_past_the_deadline(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(STATUS, *[Reply(503)] * 10)
    client = make_client(
        gateway, clock, backoff_base=0.4, backoff_cap=3.0, connect_timeout=0.5, max_attempts=10
    )
    client.tokens.get()
    with pytest.raises(GatewayServerError):
        client.get_payment("C-1-P", deadline=clock.monotonic() + 1.0)
    # t=0 attempt, sleep 0.4, attempt; the next sleep (0.8) + a connect timeout (0.5) would pass t=1.0.
    assert gateway.count(STATUS) == 2
    assert clock.sleeps == pytest.approx([0.4])
    assert clock.monotonic() <= 1_001.0


def test_an_expired_deadline_sends_nothing(gateway: FakeGateway, clock: FakeClock) -> None:
    client = make_client(gateway, clock)
    client.tokens.get()
    with pytest.raises(Pay1stConnectionError) as caught:
        client.get_payment("C-1-P", deadline=clock.monotonic() - 1)
    assert type(caught.value) is Pay1stConnectionError
    with pytest.raises(Pay1stConnectionError) as created:
        client.create_payment(payment(), deadline=clock.monotonic())
    assert type(created.value) is Pay1stConnectionError  # nothing was sent: a clean failure
    assert gateway.count(STATUS) == 0 and gateway.count(CREATE) == 0


def test_read_timeout_is_cut_to_the_deadline(gateway: FakeGateway) -> None:
    client = make_client(gateway, read_timeout=30.0)
    client.tokens.get()
    gateway.script(STATUS, Reply(delay=20))
    started = time.monotonic()
    with pytest.raises(Pay1stConnectionError):
        client.get_payment("C-1-P", deadline=deadline_after(0.3))
    assert time.monotonic() - started < 10  # bounded by the deadline, not by the 30 s read timeout
    assert gateway.count(STATUS) == 1  # no time left for a retry


class TimeoutRecordingPool(urllib3.PoolManager):
    """A real PoolManager that remembers the timeout each request was given."""

    def __init__(self) -> None:
        super().__init__(retries=False)
        self.timeouts: list[urllib3.Timeout] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        self.timeouts.append(kwargs["timeout"])
        return super().request(method, url, *args, **kwargs)


def test_an_attempt_with_a_deadline_is_bounded_as_a_whole(gateway: FakeGateway, clock: FakeClock) -> None:
    pool = TimeoutRecordingPool()
    config = ClientConfig(gateway.base_url, "https://pay.example.com", connect_timeout=3.0, read_timeout=10.0)
    client = Pay1stClient(
        config, CREDENTIALS, http=pool, clock=clock.time, sleep=clock.sleep, monotonic=clock.monotonic
    )
    client.get_payment("C-1-P")  # no deadline: the configured per-phase timeouts
    client.get_payment("C-1-P", deadline=clock.monotonic() + 5.0)
    unbounded, bounded = pool.timeouts[-2:]
    assert unbounded.total is None
    assert (unbounded.connect_timeout, unbounded.read_timeout) == (3.0, 10.0)
    # Connect and read share the 5 s left (urllib3 gives the read what the connect left of ``total``):
    # a slow connect leaves less time to read, never 5 s more.
    assert bounded.total == 5.0
    assert (bounded.connect_timeout, bounded.read_timeout) == (3.0, 5.0)


# --- create: unknown outcomes are never clean failures ----------------------------------------------


def test_create_read_timeout_is_outcome_unknown_and_not_retried(gateway: FakeGateway) -> None:
    client = make_client(gateway, read_timeout=0.3)
    gateway.script(CREATE, Reply(delay=3))
    with pytest.raises(OutcomeUnknownError):
        client.create_payment(payment())
    assert gateway.count(CREATE) == 1


def test_create_dropped_connection_is_outcome_unknown(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(CREATE, Reply(drop=True))
    with pytest.raises(OutcomeUnknownError):
        make_client(gateway, clock).create_payment(payment())
    assert gateway.count(CREATE) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_create_ambiguous_5xx_is_outcome_unknown(gateway: FakeGateway, clock: FakeClock, status: int) -> None:
    gateway.script(
        CREATE, Reply(status, {"errorCode": "INTERNAL", "errorMessage": "boom", "sessionId": "s-5"})
    )
    with pytest.raises(OutcomeUnknownError) as caught:
        make_client(gateway, clock).create_payment(payment())
    assert (caught.value.status, caught.value.session_id) == (status, "s-5")
    assert isinstance(caught.value.__cause__, GatewayServerError)
    assert gateway.count(CREATE) == 1


def test_create_is_retried_on_429_and_503(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(CREATE, Reply(429, ERROR), Reply(503))
    created = make_client(gateway, clock).create_payment(payment())
    assert created.status == "NEW" and gateway.count(CREATE) == 3
    bodies = {request.body for request in gateway.requests_to(CREATE)}
    assert len(bodies) == 1  # the same partnerReference every time


def test_create_exhausted_503_is_a_clean_failure(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(CREATE, *[Reply(503)] * 4)
    with pytest.raises(GatewayServerError):
        make_client(gateway, clock).create_payment(payment())


DUPLICATE = {"errorCode": "DUPLICATE_PARTNER_REFERENCE", "errorMessage": "already used", "sessionId": "s-d"}


def test_create_refused_after_a_503_is_outcome_unknown(gateway: FakeGateway, clock: FakeClock) -> None:
    # The 503'd attempt did create the payment; the retry is refused for the partnerReference.
    gateway.script(CREATE, Reply(503), Reply(400, DUPLICATE))
    with pytest.raises(OutcomeUnknownError) as caught:
        make_client(gateway, clock).create_payment(payment())
    error = caught.value
    assert (error.status, error.error_code, error.session_id) == (400, "DUPLICATE_PARTNER_REFERENCE", "s-d")
    assert isinstance(error.__cause__, InvalidRequestError)
    assert gateway.count(CREATE) == 2


def test_create_refused_after_a_503_and_a_reauthentication_is_outcome_unknown(
    gateway: FakeGateway, clock: FakeClock
) -> None:
    gateway.script(CREATE, Reply(503), Reply(401, {"errorCode": "UNAUTHORIZED"}), Reply(400, DUPLICATE))
    with pytest.raises(OutcomeUnknownError) as caught:
        make_client(gateway, clock).create_payment(payment())
    assert caught.value.error_code == "DUPLICATE_PARTNER_REFERENCE"
    assert gateway.count(CREATE) == 3 and gateway.count(TOKEN) == 2


def test_create_refused_after_only_a_429_is_a_clean_failure(gateway: FakeGateway, clock: FakeClock) -> None:
    gateway.script(CREATE, Reply(429, ERROR), Reply(400, DUPLICATE))
    with pytest.raises(InvalidRequestError) as caught:
        make_client(gateway, clock).create_payment(payment())
    assert caught.value.error_code == "DUPLICATE_PARTNER_REFERENCE"


def test_a_safe_operation_refused_after_a_503_is_a_plain_error(
    gateway: FakeGateway, clock: FakeClock
) -> None:
    gateway.script(STATUS, Reply(503), Reply(404, {"errorCode": "NOT_FOUND", "sessionId": "s-n"}))
    with pytest.raises(InvalidRequestError) as caught:
        make_client(gateway, clock).get_payment("C-1-P")
    assert type(caught.value) is InvalidRequestError and caught.value.status == 404


def test_create_connect_failure_is_a_clean_failure(clock: FakeClock, gateway: FakeGateway) -> None:
    client = make_client(gateway, clock)
    client.tokens.get()
    client._config = ClientConfig(
        f"http://127.0.0.1:{closed_port()}", "https://pay.example.com", max_attempts=2
    )
    with pytest.raises(Pay1stConnectionError) as caught:
        client.create_payment(payment())
    assert type(caught.value) is Pay1stConnectionError  # not sent: safe to report as failed


def test_create_2xx_with_an_unreadable_body_is_outcome_unknown(gateway: FakeGateway) -> None:
    gateway.script(CREATE, Reply(201, b"<html>created</html>"))
    with pytest.raises(OutcomeUnknownError):
        make_client(gateway).create_payment(payment())


def test_create_400_is_a_clean_failure(gateway: FakeGateway) -> None:
    gateway.script(
        CREATE, Reply(400, {"errorCode": "BAD_SIGNATURE", "errorMessage": "x", "sessionId": "s-4"})
    )
    with pytest.raises(InvalidRequestError) as caught:
        make_client(gateway).create_payment(payment())
    assert caught.value.error_code == "BAD_SIGNATURE"


NESTED_TOO_DEEPLY = b"[" * 100_000  # json.loads raises RecursionError, not ValueError


def test_bodies_nested_too_deeply_are_treated_as_unreadable(gateway: FakeGateway) -> None:
    gateway.script(TOKEN, Reply(200, NESTED_TOO_DEEPLY))
    with pytest.raises(UnexpectedResponseError):
        make_client(gateway).generate_token()
    client = make_client(gateway)
    gateway.script(STATUS, Reply(200, NESTED_TOO_DEEPLY), Reply(404, NESTED_TOO_DEEPLY))
    with pytest.raises(UnexpectedResponseError):
        client.get_payment("C-1-P")
    with pytest.raises(InvalidRequestError) as caught:
        client.get_payment("C-1-P")
    assert caught.value.status == 404 and caught.value.error_code is None
    gateway.script(CREATE, Reply(201, NESTED_TOO_DEEPLY))
    with pytest.raises(OutcomeUnknownError):
        client.create_payment(payment())


def test_unexpected_response_shape(gateway: FakeGateway) -> None:
    gateway.script(STATUS, Reply(200, {"hello": "world"}))
    with pytest.raises(UnexpectedResponseError):
        make_client(gateway).get_payment("C-1-P")
    gateway.script(TOKEN, Reply(200, {"role": "API_USER"}))
    with pytest.raises(UnexpectedResponseError):
        make_client(gateway).generate_token()


# --- 401: re-authenticate once, retry once ----------------------------------------------------------


def test_401_reauthenticates_once_and_retries_once(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    client.get_payment("C-1-P")
    gateway.revoke_tokens()
    client.create_payment(payment())
    creates = gateway.requests_to(CREATE)
    assert [r.header("AccessToken") for r in creates] == [
        "Bearer access-token-value-1-zz9",
        "Bearer access-token-value-2-zz9",
    ]
    assert gateway.count(TOKEN) == 2


def test_a_second_401_is_raised(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    gateway.script(STATUS, *[Reply(401, {"errorCode": "UNAUTHORIZED", "sessionId": "s-401"})] * 3)
    with pytest.raises(AuthenticationError) as caught:
        client.get_payment("C-1-P")
    assert caught.value.status == 401 and caught.value.session_id == "s-401"
    assert gateway.count(STATUS) == 2 and gateway.count(TOKEN) == 2


def test_401_from_the_token_endpoint_is_not_retried(gateway: FakeGateway) -> None:
    gateway.script(TOKEN, Reply(401, {"errorCode": "BAD_CREDENTIALS", "sessionId": "s-t"}))
    with pytest.raises(AuthenticationError):
        make_client(gateway).get_payment("C-1-P")
    assert gateway.count(TOKEN) == 1 and gateway.count(STATUS) == 0


def test_the_pool_is_reused(gateway: FakeGateway) -> None:
    client = make_client(gateway)
    for _ in range(3):
        client.get_payment("C-1-P")
    pools = list(client._http.pools._container.values())
    assert len(pools) == 1 and pools[0].num_connections == 1
