"""The layer against the independent sandbox implementation of the contract (two implementations agree).

Exercises every operation over real HTTP, the sandbox's own strict checks (content types, Basic auth,
AccessToken, signature of the exact bytes, timestamp window, URL-escaped checkout token), and the
token behaviour as the gateway side counts it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import urllib3
from layer_fakes import CREDENTIALS, FakeClock
from pay1st.client import ClientConfig, Pay1stClient
from pay1st.errors import InvalidRequestError, OutcomeUnknownError
from pay1st.models import FulfilmentItem, MetadataItem, PaymentRequest, Product
from pay1st.tokens import InMemoryTokenStore, TokenStore


def client_for(
    sandbox: Any, store: TokenStore | None = None, clock: FakeClock | None = None, **cfg: Any
) -> Pay1stClient:
    config = ClientConfig(base_url=sandbox.base_url, pay_url=sandbox.base_url, **cfg)
    if clock is None:
        return Pay1stClient(config, CREDENTIALS, store)
    return Pay1stClient(config, CREDENTIALS, store or InMemoryTokenStore(clock=clock.time), clock=clock.time)


def payment(reference: str) -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal("250.50"),
        country_code="ZA",
        currency_code="ZAR",
        partner_reference=reference,
        products=(Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
        metadata=(MetadataItem("playerId", "p-42"),),
    )


def test_every_operation_end_to_end(sandbox: Any) -> None:
    client = client_for(sandbox)
    methods = client.list_payment_methods("ZA")
    channel = next(c for c in methods.channels if c.is_active)

    created = client.create_payment(payment("layer-e2e-1"))
    assert created.status == "NEW" and created.amount == Decimal("250.50")

    link = client.checkout_url(created.reference, channel.id)
    page = urllib3.request("GET", link, retries=False)
    assert page.status == 200  # the sandbox accepted our URL-escaped token and channel

    sandbox.control.settle(created.reference, "pay")
    details = client.get_payment(created.reference)
    assert (details.status, details.partner_reference, details.amount) == (
        "SUCCESSFUL",
        "layer-e2e-1",
        Decimal("250.50"),
    )

    client.notify_fulfilment(created.reference, [FulfilmentItem("GEM-500", 1, datetime.now(UTC))])
    [fulfilment] = sandbox.control.fulfilments()
    assert fulfilment["reference"] == created.reference

    counters = sandbox.control.counters()
    assert counters["tokens_issued"] == 1 and counters["tokens_refreshed"] == 0
    assert counters["payments_created"] == 1 and counters["fulfilments_received"] == 1


def test_gateway_validation_errors_are_clean_failures(sandbox: Any) -> None:
    client = client_for(sandbox)
    client.create_payment(payment("layer-dup"))
    with pytest.raises(InvalidRequestError) as caught:
        client.create_payment(payment("layer-dup"))
    assert caught.value.error_code == "DUPLICATE_PARTNER_REFERENCE" and caught.value.session_id


def test_revoked_tokens_reauthenticate_once(sandbox: Any) -> None:
    client = client_for(sandbox)
    client.list_payment_methods("NG")
    sandbox.control.expire_tokens(refresh_tokens=True)
    client.list_payment_methods("NG")
    assert sandbox.control.counters()["tokens_issued"] == 2


def test_tokens_are_refreshed_ahead_of_expiry(sandbox: Any) -> None:
    clock = FakeClock(start=time.time())
    client = client_for(sandbox, clock=clock)
    client.list_payment_methods("KE")
    clock.advance(250)  # inside the 60 s margin of the 300 s lifetime (and inside the sandbox's window)
    client.create_payment(payment("layer-refresh-1"))
    counters = sandbox.control.counters()
    assert (counters["tokens_issued"], counters["tokens_refreshed"]) == (1, 1)


def test_twenty_cold_clients_one_token(sandbox: Any) -> None:
    sandbox.control.set_faults(latency={"POST /api/pay1st/auth/token": 0.2})
    store = InMemoryTokenStore()
    clients = [client_for(sandbox, store) for _ in range(20)]
    barrier = threading.Barrier(20)

    def call(client: Pay1stClient) -> int:
        barrier.wait()
        return len(client.list_payment_methods("GH").groups)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(call, clients))
    assert sandbox.control.counters()["tokens_issued"] == 1


def test_stalled_create_is_outcome_unknown_and_the_payment_exists(sandbox: Any) -> None:
    client = client_for(sandbox, read_timeout=0.5)
    client.list_payment_methods("ZA")
    sandbox.control.set_faults(create_stall_seconds=3, create_stall_count=1)
    with pytest.raises(OutcomeUnknownError):
        client.create_payment(payment("layer-stall-1"))
    assert sandbox.control.payment("layer-stall-1")["status"] == "NEW"  # it was created: not a clean failure
    assert sandbox.control.counters()["POST /api/pay1st/payments/create"] == 1


def test_create_rides_through_rate_limits(sandbox: Any) -> None:
    sandbox.control.set_faults(rate_429={"POST /api/pay1st/payments/create": 0.5}, seed=7)
    client = client_for(sandbox, backoff_base=0.01, backoff_cap=0.05, max_attempts=8)
    for number in range(5):
        assert client.create_payment(payment(f"layer-429-{number}")).status == "NEW"
    counters = sandbox.control.counters()
    assert counters["payments_created"] == 5 and counters["faults_injected"] > 0
