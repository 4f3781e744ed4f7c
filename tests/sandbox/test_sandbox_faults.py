"""Faults on demand, deterministic under a seed: latency, 429/5xx, rate limit, token lifetime, clock skew,
webhooks dropped/duplicated/delayed/reordered, and the create that times out after processing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import urllib3
from pay1st_sandbox import SandboxControlError, SandboxServer
from sandbox_kit import GatewayClient, WebhookReceiver, assert_gateway_error, iso_now, payment_body

METHODS = "GET /api/pay1st/payments/methods"
TOKEN = "POST /api/pay1st/auth/token"
CREATE = "POST /api/pay1st/payments/create"


def test_latency_is_per_route(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    server.control.set_faults(latency={METHODS: 2.0})

    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        gw.http.request(
            "GET",
            f"{gw.base_url}/api/pay1st/payments/methods?countryCode=ZA",
            headers=gw.auth_headers(token, "application/vnd.carry1st.payments.paymentchannel+json"),
            timeout=0.3,
            retries=False,
        )
    _, created = gw.new_payment(token)
    assert gw.request("GET", "/_sandbox/health", timeout=0.3).status == 200
    assert gw.status(token, created["reference"]).status == 200


def test_429_rate_answers_before_processing(gw: GatewayClient, server: SandboxServer) -> None:
    server.control.set_faults(rate_429={TOKEN: 1.0})

    reply = gw.token()

    assert_gateway_error(reply, 429, "TOO_MANY_REQUESTS")
    assert reply.headers["Retry-After"] == "1"
    counters = server.control.counters()
    assert counters["tokens_issued"] == 0 and counters["faults_injected"] == 1 and counters[TOKEN] == 1
    server.control.clear_faults()
    assert gw.token().status == 200


def test_5xx_rate_answers_before_processing(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    server.control.set_faults(rate_5xx={CREATE: 1.0})
    assert_gateway_error(gw.create(token, payment_body()), 500, "INTERNAL_ERROR")
    server.control.set_faults(server_error_status=503)
    assert_gateway_error(gw.create(token, payment_body()), 503, "INTERNAL_ERROR")
    assert server.control.payments() == []
    assert gw.methods(token).status == 200  # other routes untouched


def test_a_bare_rate_applies_to_every_route(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment()
    server.control.set_faults(rate_5xx=1.0)
    assert_gateway_error(gw.methods(token), 500)
    assert_gateway_error(gw.token(), 500)
    page = gw.checkout(created["reference"], token)
    assert page.status == 500 and 'data-error-code="INTERNAL_ERROR"' in page.text  # HTML on the hosted page
    assert server.control.health()  # the control API is never faulted


def _statuses(server: SandboxServer, gw: GatewayClient, **faults: Any) -> list[int]:
    server.control.set_faults(**faults)
    return [gw.token().status for _ in range(30)]


def test_fault_decisions_are_deterministic_under_the_seed(gw: GatewayClient, server: SandboxServer) -> None:
    first = _statuses(server, gw, rate_429={TOKEN: 0.5})
    again = _statuses(server, gw, rate_429={TOKEN: 0.5})  # setting faults restarts the streams
    assert first == again
    assert {200, 429} == set(first)
    other_seed = _statuses(server, gw, seed=12345)
    assert other_seed != first and {200, 429} == set(other_seed)


def test_same_seed_same_faults_across_sandboxes(start_sandbox: Callable[..., SandboxServer]) -> None:
    runs = []
    for _ in range(2):
        server = start_sandbox(seed=99)
        runs.append(_statuses(server, GatewayClient(server.base_url), rate_5xx=0.3, rate_429=0.3))
    assert runs[0] == runs[1] and len(set(runs[0])) == 3


def test_rate_limit_counts_api_requests_in_a_window(gw: GatewayClient, server: SandboxServer) -> None:
    server.control.set_faults(rate_limit_requests=3, rate_limit_window_seconds=60)
    token = gw.access_token()
    assert gw.methods(token).status == 200
    server.control.counters()  # control calls do not count
    assert gw.methods(token, "KE").status == 200
    assert_gateway_error(gw.methods(token, "NG"), 429, "TOO_MANY_REQUESTS")
    assert_gateway_error(gw.token(), 429)
    server.control.clear_faults()
    assert gw.methods(token).status == 200


def test_clock_skew_moves_the_signature_window(gw: GatewayClient, server: SandboxServer) -> None:
    server.control.set_faults(clock_skew_seconds=-400)
    token = gw.access_token()  # created at sandbox time, 400 s behind the client's clock
    assert_gateway_error(gw.create(token, payment_body()), 400, "TIMESTAMP_OUT_OF_WINDOW")
    assert gw.create(token, payment_body(), timestamp=iso_now(-400)).status == 201


def test_clock_skew_shows_in_webhook_timestamps(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    _, created = gw.new_payment()
    server.control.set_faults(clock_skew_seconds=3600)
    server.control.settle(created["reference"], "pay")
    (event,) = receiver.wait_for(1)
    sent_at = datetime.fromisoformat(event.headers["x-timestamp"].replace("Z", "+00:00"))
    assert 3500 < (sent_at - datetime.now(UTC)).total_seconds() < 3700


def test_dropped_webhooks_are_logged_never_sent(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    server.control.set_faults(webhook_drop_rate=1.0)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(5)
    (delivery,) = server.control.webhook_deliveries()
    assert delivery["state"] == "dropped" and delivery["attempts"] == []
    assert receiver.received == []
    assert server.control.counters()["webhooks_dropped"] == 1


def test_duplicated_webhooks_arrive_twice_identical(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    server.control.set_faults(webhook_duplicate_rate=1.0)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(5)
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    original, copy = server.control.webhook_deliveries()
    assert copy["duplicateOf"] == original["id"] and original["eventId"] == copy["eventId"]
    assert server.control.counters()["webhooks_duplicated"] == 1


def test_delayed_webhooks_wait_then_arrive(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    server.control.set_faults(webhook_delay_seconds=1.0)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")

    assert server.control.webhook_deliveries()[0]["state"] == "delayed"
    assert receiver.received == []
    server.control.flush_webhooks(5)
    assert receiver.wait_for(1)[0].json()["status"] == "SUCCESSFUL"


def test_flush_times_out_while_deliveries_are_still_due(gw: GatewayClient, server: SandboxServer) -> None:
    server.control.set_faults(webhook_delay_seconds=30)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")
    with pytest.raises(TimeoutError):
        server.control.flush_webhooks(0.2)


def test_reordered_webhooks_arrive_in_reverse(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    server.control.set_faults(webhook_reorder="reverse", webhook_reorder_window=2)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "offline")
    assert server.control.webhook_deliveries()[0]["state"] == "held"

    server.control.settle(created["reference"], "settle-offline")
    server.control.flush_webhooks(5)

    assert [event.json()["status"] for event in receiver.wait_for(2)] == ["SUCCESSFUL", "PENDING"]


def test_held_webhooks_are_released_once_the_fault_is_cleared(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    server.control.set_faults(webhook_reorder="reverse", webhook_reorder_window=10)
    _, first = gw.new_payment()
    server.control.settle(first["reference"], "pay")
    server.control.clear_faults()
    _, second = gw.new_payment()
    server.control.settle(second["reference"], "pay")
    references = [event.json()["reference"] for event in receiver.wait_for(2)]
    assert references == [first["reference"], second["reference"]]


def test_held_webhooks_are_released_by_a_flush(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    server.control.set_faults(webhook_reorder="reverse", webhook_reorder_window=10)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")
    assert server.control.webhook_deliveries()[0]["state"] == "held"
    server.control.flush_webhooks(5)
    assert len(receiver.wait_for(1)) == 1


def _shuffled_order(start_sandbox: Callable[..., SandboxServer]) -> list[int]:
    receiver = WebhookReceiver()
    try:
        server = start_sandbox(seed=3, default_webhook_url=receiver.url)
        gw = GatewayClient(server.base_url)
        server.control.set_faults(webhook_reorder="shuffle", webhook_reorder_window=5)
        token = gw.access_token()
        references = [gw.new_payment(token)[1]["reference"] for _ in range(5)]
        for reference in references:
            server.control.settle(reference, "pay")
        server.control.flush_webhooks(5)
        return [references.index(event.json()["reference"]) for event in receiver.wait_for(5)]
    finally:
        receiver.close()


def test_shuffled_webhooks_follow_the_seed(start_sandbox: Callable[..., SandboxServer]) -> None:
    first = _shuffled_order(start_sandbox)
    assert sorted(first) == [0, 1, 2, 3, 4] and first != [0, 1, 2, 3, 4]
    assert _shuffled_order(start_sandbox) == first


def test_create_can_time_out_after_processing(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    server.control.set_faults(create_stall_seconds=3, create_stall_count=1)
    body = payment_body()

    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        gw.create(token, body, timeout=0.5)

    # The outcome the client could not see: the payment exists.
    (payment,) = server.control.payments()
    assert payment["partnerReference"] == body["partnerReference"] and payment["status"] == "NEW"
    assert_gateway_error(gw.create(token, body, timeout=2), 400, "DUPLICATE_PARTNER_REFERENCE")
    assert gw.create(token, payment_body(), timeout=2).status == 201  # the count is used up


@pytest.mark.parametrize(
    "faults",
    [
        {"no_such_fault": 1},
        {"rate_429": 1.5},
        {"rate_5xx": {"GET /x": -0.1}},
        {"latency": {"not a route": 1}},
        {"latency": -1},
        {"server_error_status": 404},
        {"webhook_reorder": "sideways"},
        {"token_lifetime": 0},
        {"rate_limit_requests": 0},
        {"token_forbidden": "yes"},
        {"create_stall_count": -1},
    ],
    ids=str,
)
def test_invalid_faults_are_refused(server: SandboxServer, faults: dict[str, Any]) -> None:
    with pytest.raises(SandboxControlError) as refused:
        server.control.set_faults(**faults)
    assert (refused.value.status, refused.value.code) == (400, "INVALID_FAULT")


def test_faults_merge_and_clear(server: SandboxServer) -> None:
    server.control.set_faults(latency={METHODS: 0.1})
    current = server.control.set_faults(rate_429=0.25, webhook_reorder=True)
    # The control client reads numbers as Decimal (exact amounts), so 0.1 comes back as Decimal("0.1").
    assert current["latency"] == {METHODS: Decimal("0.1")} and current["rate_429"] == {"*": Decimal("0.25")}
    assert current["webhook_reorder"] == "reverse"
    assert server.control.faults() == current
    server.control.clear_faults()
    cleared = server.control.faults()
    assert cleared["latency"] == {} and cleared["rate_429"] == {} and cleared["webhook_reorder"] == "off"


def test_webhook_redelivery_can_be_turned_off(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Given the fault webhook_max_attempts=1, When the partner answers a webhook 503, Then it is never sent
    again (a scenario can show a bundle that does not rely on Pay1st's redelivery)."""
    server.control.set_faults(webhook_max_attempts=1)
    receiver.statuses.append(503)
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(5)
    (delivery,) = server.control.webhook_deliveries()
    assert delivery["state"] == "failed" and [a["statusCode"] for a in delivery["attempts"]] == [503]
    assert len(receiver.received) == 1
