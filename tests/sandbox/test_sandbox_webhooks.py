"""§10 payment webhooks: fields, signature, destination, retries with backoff, the delivery log."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime

from pay1st_sandbox import SandboxServer
from sandbox_kit import SIGNING_KEY, GatewayClient, WebhookReceiver, hmac_hex

EXACT_BODY = (
    b'{"countryCode":"NG","currencyCode":"NGN","amount":1500.10,"partnerReference":"hook-1",'
    b'"products":[{"title":"Coins","sku":"C-1","price":750.05,"quantity":2,"currencyCode":"NGN"}],'
    b'"metadata":[]}'
)


def test_webhook_carries_the_documented_fields_signed(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token = gw.access_token()
    reference = gw.create(token, EXACT_BODY).json()["reference"]

    server.control.settle(reference, "pay")

    (event,) = receiver.wait_for(1)
    assert event.path == "/webhooks/pay1st"
    assert event.headers["content-type"] == "application/json"
    # orderAmount is the created amount, digit for digit; partnerId is a number.
    assert b'"orderAmount":1500.10' in event.body and b'"partnerId":4242,' in event.body
    body = event.json()
    assert {
        "partnerId": body["partnerId"],
        "partnerCode": body["partnerCode"],
        "partnerReference": body["partnerReference"],
        "reference": body["reference"],
        "currencyCode": body["currencyCode"],
        "countryCode": body["countryCode"],
        "status": body["status"],
    } == {
        "partnerId": 4242,
        "partnerCode": "SANDBOX-PARTNER",
        "partnerReference": "hook-1",
        "reference": reference,
        "currencyCode": "NGN",
        "countryCode": "NG",
        "status": "SUCCESSFUL",
    }
    # Extra, undocumented fields a partner must tolerate.
    assert {"eventId", "eventTime", "channelId", "channelName", "paymentMethod", "customer"} <= set(body)
    # §4 signature over timestamp + raw body, with a current timestamp.
    stamp = event.headers["x-timestamp"]
    assert event.headers["x-signature"] == hmac_hex(SIGNING_KEY, stamp, event.body)
    sent_at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - sent_at).total_seconds()) < 60


def test_every_status_change_sends_one_webhook_in_order(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    _, created = gw.new_payment()
    server.control.settle(created["reference"], "offline")
    server.control.settle(created["reference"], "settle-offline")
    server.control.flush_webhooks(5)
    assert [event.json()["status"] for event in receiver.wait_for(2)] == ["PENDING", "SUCCESSFUL"]
    counters = server.control.counters()
    assert counters["webhooks_sent"] == 2 and counters["webhooks_delivered"] == 2
    assert counters["webhook_attempts"] == 2


def test_per_payment_webhook_url_wins_over_the_default(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    other = WebhookReceiver()
    try:
        _, created = gw.new_payment(webhookUrl=other.url.replace("/webhooks/pay1st", "/own/hook"))
        server.control.settle(created["reference"], "fail")
        server.control.flush_webhooks(5)
        assert [event.path for event in other.wait_for(1)] == ["/own/hook"]
        assert receiver.received == []
    finally:
        other.close()


def test_no_webhook_without_any_url(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox()
    _, created = GatewayClient(server.base_url).new_payment()
    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(5)
    assert server.control.webhook_deliveries() == []
    assert server.control.counters()["webhooks_queued"] == 0


def test_non_2xx_is_retried_with_backoff_and_logged(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    receiver.statuses.extend([500, 503])
    _, created = gw.new_payment()

    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(10)

    events = receiver.wait_for(3)
    assert len({event.body for event in events}) == 1  # the same event, byte for byte
    for event in events:  # each attempt signed with its own timestamp
        assert event.headers["x-signature"] == hmac_hex(SIGNING_KEY, event.headers["x-timestamp"], event.body)
    (delivery,) = server.control.webhook_deliveries()
    assert delivery["state"] == "delivered"
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [500, 503, 200]
    assert [attempt["number"] for attempt in delivery["attempts"]] == [1, 2, 3]
    assert delivery["body"].encode() == events[0].body and delivery["url"] == receiver.url
    stamps = [attempt["at"] for attempt in delivery["attempts"]]
    assert stamps == sorted(stamps)
    counters = server.control.counters()
    assert (counters["webhooks_sent"], counters["webhook_attempts"], counters["webhooks_delivered"]) == (
        1,
        3,
        1,
    )


def test_delivery_gives_up_after_the_configured_attempts(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    server = start_sandbox(
        default_webhook_url=receiver.url, webhook_max_attempts=3, webhook_backoff_base=0.01
    )
    receiver.default_status = 500
    _, created = GatewayClient(server.base_url).new_payment()

    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(10)

    (delivery,) = server.control.webhook_deliveries()
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == 3
    assert len(receiver.received) == 3
    assert server.control.counters()["webhooks_failed"] == 1


def test_connection_errors_are_retried_and_recorded(start_sandbox: Callable[..., SandboxServer]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    server = start_sandbox(default_webhook_url=f"http://127.0.0.1:{closed_port}/hook", webhook_max_attempts=2)
    _, created = GatewayClient(server.base_url).new_payment()

    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(10)

    (delivery,) = server.control.webhook_deliveries()
    assert delivery["state"] == "failed"
    assert [attempt["statusCode"] for attempt in delivery["attempts"]] == [None, None]
    assert all(
        "Connection" in attempt["error"] or "refused" in attempt["error"] for attempt in delivery["attempts"]
    )


# --------------------------------------------------------------------------- §10 signing schemes


def basic_auth_hex(username: str, password: str, body: bytes) -> str:
    """The tests' own §10 basic-auth HMAC (key: the base64 text of username:password; body trimmed)."""
    import base64
    import hashlib
    import hmac

    key = base64.b64encode(f"{username}:{password}".encode()).decode("ascii").encode("ascii")
    return hmac.new(key, body.strip(), hashlib.sha256).hexdigest()


def test_webhooks_can_be_signed_with_basic_auth_set_through_the_control_api(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    # Given the sandbox switched to basic-auth signing with upper-case hex
    assert server.control.webhook_signing() == {"scheme": "signing-key", "hexCase": "lower"}
    assert server.control.set_webhook_signing("basic-auth", hex_case="upper") == {
        "scheme": "basic-auth",
        "hexCase": "upper",
    }
    token = gw.access_token()
    reference = gw.create(token, EXACT_BODY).json()["reference"]
    # When a payment settles
    server.control.settle(reference, "pay")
    (event,) = receiver.wait_for(1)
    # Then the webhook carries X-SIGNATURE only: the documented local Basic Auth credentials' HMAC
    assert "x-timestamp" not in event.headers
    expected = basic_auth_hex("partner-webhooks", "s3cr3t-Pa55", event.body)
    assert event.headers["x-signature"] == expected.upper()
    # And a reset goes back to the configured scheme
    server.control.reset()
    assert server.control.webhook_signing() == {"scheme": "signing-key", "hexCase": "lower"}


def test_the_scheme_is_a_startup_option_and_bad_values_are_refused(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    from pay1st_sandbox.client import SandboxControlError

    server = start_sandbox(default_webhook_url=receiver.url, webhook_scheme="basic-auth")
    assert server.control.webhook_signing()["scheme"] == "basic-auth"
    for bad in ({"scheme": "hmac"}, {"hex_case": "mixed"}):
        try:
            server.control.set_webhook_signing(**bad)
        except SandboxControlError as exc:
            assert exc.status == 400
        else:
            raise AssertionError(f"{bad} accepted")
    config = server.control.config()
    assert "webhook_password" not in config and "webhook_username" not in config
    assert config["webhook_scheme"] == "basic-auth"
