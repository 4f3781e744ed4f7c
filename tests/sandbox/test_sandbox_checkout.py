"""§8 the hosted checkout page and its buttons, §11 the redirect to the callback URL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from pay1st_sandbox import SandboxControlError, SandboxServer
from sandbox_kit import GatewayClient, WebhookReceiver, parse_checkout

BUTTONS = ["pay", "pay-offline", "fail", "cancel", "abandon"]


def test_page_shows_amount_products_methods_and_buttons(gw: GatewayClient, server: SandboxServer) -> None:
    products = [
        {
            "title": "500 Gems",
            "sku": "GEM-500",
            "price": Decimal("200.00"),
            "quantity": 1,
            "currencyCode": "ZAR",
        },
        {
            "title": "Booster <b>",
            "sku": "BOOST-1",
            "price": Decimal("25.25"),
            "quantity": 2,
            "currencyCode": "ZAR",
        },
    ]
    token, created = gw.new_payment(products=products)

    page = gw.checkout(created["reference"], token)

    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    form = parse_checkout(page.text)
    assert form.buttons == BUTTONS
    assert {"pay", "fail", "cancel", "pay-offline", "abandon", "amount", "products", "methods"} <= form.ids
    assert form.data["amount"] == {"data-amount": "250.5", "data-currency": "ZAR"}
    assert (
        "GEM-500" in page.text
        and "Booster &lt;b&gt;" in page.text
        and "<b>" not in page.text.split("<main>")[1]
    )
    # Grouped as in §6; suspended channels are shown but cannot be chosen.
    assert form.channels == {
        "Cards": [201],
        "Instant EFT": [202],
        "Cash and Vouchers": [203],
        "Wallets": [204],
    }
    assert form.disabled == [204] and form.checked == 201
    assert form.action == "/checkout/complete" and form.session
    assert server.control.counters()["checkout_views"] == 1


def test_page_with_a_channel_shows_only_that_method(gw: GatewayClient) -> None:
    token, created = gw.new_payment()
    form = parse_checkout(gw.checkout(created["reference"], token, channel_id=202).text)
    assert form.channels == {"Instant EFT": [202]} and form.checked == 202


@pytest.mark.parametrize(
    "channel_id", ["204", "302", "abc", "-1"], ids=["suspended", "other-country", "text", "neg"]
)
def test_page_with_an_unavailable_channel_is_400(gw: GatewayClient, channel_id: str) -> None:
    token, created = gw.new_payment()
    page = gw.checkout(created["reference"], token, channel_id=channel_id)
    assert page.status == 400 and 'data-error-code="UNKNOWN_CHANNEL"' in page.text


def test_page_with_a_bad_reference_is_400(gw: GatewayClient) -> None:
    token = gw.access_token()
    for reference, code in ((None, "MISSING_REFERENCE"), ("C-000000000000001-P", "UNKNOWN_REFERENCE")):
        page = gw.checkout(reference, token)
        assert page.status == 400 and 'id="error"' in page.text and f'data-error-code="{code}"' in page.text


def test_page_with_a_bad_token_is_401(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment()
    reference = created["reference"]
    assert gw.checkout(reference, None).status == 401
    assert gw.checkout(reference, "at+forged/x=").status == 401
    # A link that did not URL-escape the token: its "+" arrives as a space (§8 says escape it).
    unescaped = gw.request("GET", f"/checkout?reference={reference}&accessToken={token}")
    assert unescaped.status == 401 and 'data-error-code="INVALID_TOKEN"' in unescaped.text
    server.control.set_faults(clock_skew_seconds=301)
    expired = gw.checkout(reference, token)
    assert expired.status == 401 and 'data-error-code="TOKEN_EXPIRED"' in expired.text


def test_page_never_logs_the_access_token(
    gw: GatewayClient, caplog: pytest.LogCaptureFixture, server: SandboxServer
) -> None:
    token, created = gw.new_payment()
    with caplog.at_level("DEBUG"):
        assert gw.checkout(created["reference"], token).status == 200
        assert gw.checkout(created["reference"], token + "x").status == 401
    sandbox_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pay1st_sandbox"))
    assert "GET /checkout 200" in sandbox_logs and "GET /checkout 401" in sandbox_logs
    # The token's secret part: all after its kind ("at+"), which itself may hold a "+" (base64).
    secret = token.partition("+")[2][:10]
    assert secret and secret not in sandbox_logs and "accessToken" not in sandbox_logs


@pytest.mark.parametrize(
    ("button", "status", "callback"),
    [
        ("pay", "SUCCESSFUL", "https://shop.test/ok"),
        ("fail", "FAILED", "https://shop.test/ko"),
        ("cancel", "CANCELLED", "https://shop.test/cancel"),
        ("pay-offline", "PENDING", "https://shop.test/wait"),
        ("abandon", "ABANDONED", "https://shop.test/ko"),
    ],
)
def test_each_button_settles_notifies_and_redirects_to_the_override(
    gw: GatewayClient,
    server: SandboxServer,
    receiver: WebhookReceiver,
    button: str,
    status: str,
    callback: str,
) -> None:
    token, created = gw.new_payment(
        callbackSuccessUrl="https://shop.test/ok?partnerReference=p1",
        callbackFailureUrl="https://shop.test/ko?partnerReference=p1",
        callbackPendingUrl="https://shop.test/wait?partnerReference=p1",
        callbackCancelUrl="https://shop.test/cancel?partnerReference=p1",
    )
    page = gw.checkout(created["reference"], token)

    reply = gw.press(page, button)

    assert reply.status == 303
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == callback
    assert parse_qs(location.query) == {
        "partnerReference": ["p1"],
        "reference": [created["reference"]],
        "status": [status],
    }
    assert server.control.payment(created["reference"])["status"] == status
    events = receiver.wait_for(1)
    assert events[0].json()["status"] == status and events[0].json()["reference"] == created["reference"]
    assert server.control.counters()["checkout_actions"] == 1


def test_buttons_redirect_to_the_console_default_without_override(gw: GatewayClient) -> None:
    token, created = gw.new_payment()
    reply = gw.press(gw.checkout(created["reference"], token), "cancel")
    assert reply.headers["Location"].startswith("https://shop.test/callbacks/cancel?reference=")


def test_without_any_callback_url_the_browser_lands_on_a_result_page(
    start_sandbox: Callable[..., SandboxServer],
) -> None:
    gw = GatewayClient(start_sandbox().base_url)
    token, created = gw.new_payment()
    reply = gw.press(gw.checkout(created["reference"], token), "pay")
    assert reply.headers["Location"].startswith("/checkout/result?")
    landing = gw.request("GET", reply.headers["Location"])
    assert landing.status == 200 and 'data-status="SUCCESSFUL"' in landing.text


def test_the_chosen_channel_is_recorded(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token, created = gw.new_payment()
    gw.press(gw.checkout(created["reference"], token), "pay", channel_id=202)
    payment = server.control.payment(created["reference"])
    assert payment["channelId"] == 202 and payment["channelName"] == "Ozow Instant EFT"
    assert receiver.wait_for(1)[0].json()["channelId"] == 202


def test_a_session_is_used_up_by_the_first_press(gw: GatewayClient) -> None:
    token, created = gw.new_payment()
    page = gw.checkout(created["reference"], token)
    assert gw.press(page, "pay").status == 303
    again = gw.press(page, "fail")
    assert again.status == 400 and 'data-error-code="INVALID_SESSION"' in again.text


def test_a_page_opened_twice_cannot_settle_twice(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment()
    first, second = gw.checkout(created["reference"], token), gw.checkout(created["reference"], token)
    assert gw.press(first, "pay").status == 303
    conflict = gw.press(second, "fail")
    assert conflict.status == 409 and 'data-error-code="INVALID_TRANSITION"' in conflict.text
    assert server.control.payment(created["reference"])["status"] == "SUCCESSFUL"


def test_page_of_a_final_payment_is_409_and_of_a_pending_one_has_no_buttons(
    gw: GatewayClient, server: SandboxServer
) -> None:
    token, created = gw.new_payment()
    server.control.settle(created["reference"], "offline")
    pending = gw.checkout(created["reference"], token)
    assert (
        pending.status == 200
        and 'id="pending"' in pending.text
        and parse_checkout(pending.text).buttons == []
    )
    server.control.settle(created["reference"], "settle-offline")
    final = gw.checkout(created["reference"], token)
    assert final.status == 409 and 'data-error-code="PAYMENT_FINAL"' in final.text


def test_form_errors_are_400_pages(gw: GatewayClient) -> None:
    token, created = gw.new_payment()
    form = parse_checkout(gw.checkout(created["reference"], token).text)
    as_json = gw.request(
        "POST", "/checkout/complete", body=b'{"action":"pay"}', headers={"Content-Type": "application/json"}
    )
    assert as_json.status == 400 and 'data-error-code="INVALID_FORM"' in as_json.text
    unknown = gw.request(
        "POST",
        "/checkout/complete",
        body=f"session={form.session}&action=refund".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unknown.status == 400 and 'data-error-code="UNKNOWN_ACTION"' in unknown.text
    assert gw.request("GET", "/checkout/complete").status == 405
    assert gw.request("GET", "/checkout/result?reference=nope").status == 400


def test_pay_offline_settles_later_by_itself(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    server = start_sandbox(offline_settle_seconds=0.2, default_webhook_url=receiver.url)
    gw = GatewayClient(server.base_url)
    token, created = gw.new_payment()

    reply = gw.press(gw.checkout(created["reference"], token), "pay-offline")

    assert reply.status == 303
    events = receiver.wait_for(2)
    assert [event.json()["status"] for event in events] == ["PENDING", "SUCCESSFUL"]
    history = server.control.payment(created["reference"])["history"]
    assert [(h["status"], h["source"]) for h in history] == [
        ("NEW", "create"),
        ("PENDING", "checkout"),
        ("SUCCESSFUL", "offline-settlement"),
    ]
    assert events[0].json()["paymentMethod"] in {"VOUCHER", "CASH"}  # an offline channel by default


def test_control_settle_covers_every_outcome(gw: GatewayClient, server: SandboxServer) -> None:
    expected = {"pay": "SUCCESSFUL", "fail": "FAILED", "cancel": "CANCELLED", "abandon": "ABANDONED"}
    for outcome, status in expected.items():
        _, created = gw.new_payment()
        assert server.control.settle(created["reference"], outcome)["status"] == status
    _, created = gw.new_payment()
    with pytest.raises(SandboxControlError) as not_pending:
        server.control.settle(created["reference"], "settle-offline")
    assert not_pending.value.status == 409
    assert server.control.settle(created["partnerReference"], "offline")["status"] == "PENDING"
    assert server.control.settle(created["reference"], "settle-offline")["status"] == "SUCCESSFUL"
    with pytest.raises(SandboxControlError) as final:
        server.control.settle(created["reference"], "fail")
    assert (final.value.status, final.value.code) == (409, "INVALID_TRANSITION")
    with pytest.raises(SandboxControlError) as unknown:
        server.control.settle(created["reference"], "refund")
    assert (unknown.value.status, unknown.value.code) == (400, "UNKNOWN_OUTCOME")
    with pytest.raises(SandboxControlError) as missing:
        server.control.settle("C-000000000000000-P", "pay")
    assert missing.value.status == 404


def test_the_browser_is_not_held_up_by_a_slow_webhook(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    receiver.gate = threading.Event()  # the partner's endpoint hangs until released
    token, created = gw.new_payment()

    reply = gw.press(gw.checkout(created["reference"], token), "pay")

    assert reply.status == 303
    receiver.wait_for(1)
    assert server.control.webhook_deliveries()[0]["state"] == "sending"
    receiver.gate.set()
    server.control.flush_webhooks(5)
    assert server.control.webhook_deliveries()[0]["state"] == "delivered"
