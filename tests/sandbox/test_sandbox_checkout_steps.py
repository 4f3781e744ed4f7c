"""§14 on the hosted page: a method walked step by step, one input per page, beside the unchanged buttons."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from pay1st_sandbox import SandboxServer
from sandbox_kit import GatewayClient, Reply, WebhookReceiver, parse_checkout, parse_step, post_step

BUTTONS = ["pay", "pay-offline", "fail", "cancel", "abandon"]


def ng_payment(gw: GatewayClient) -> tuple[str, str]:
    product = {"title": "Gems", "sku": "GEM-1", "price": Decimal(100), "quantity": 1, "currencyCode": "NGN"}
    token, created = gw.new_payment(
        countryCode="NG", currencyCode="NGN", amount=Decimal(100), products=[product]
    )
    return token, str(created["reference"])


def step_link(page: Reply, channel_id: int) -> str:
    match = re.search(rf'id="steps-{channel_id}" href="([^"]+)"', page.text)
    assert match, f"no step-by-step link for {channel_id}"
    return match.group(1).replace("&amp;", "&")


def follow(gw: GatewayClient, reply: Reply) -> Reply:
    assert reply.status == 303, (reply.status, reply.data[:300])
    return gw.request("GET", reply.headers["Location"])


def test_the_checkout_page_offers_each_method_step_by_step_beside_its_buttons(gw: GatewayClient) -> None:
    token, reference = ng_payment(gw)
    page = gw.checkout(reference, token)
    form = parse_checkout(page.text)
    assert form.buttons == BUTTONS  # the simple flow is unchanged
    for channel in (101, 102, 103, 105, 106, 107, 108):
        assert step_link(page, channel).startswith("/checkout/steps?session=")
    assert 'id="steps-104"' not in page.text  # suspended


def test_card_with_otp_on_the_page(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Given a Nigerian payment's checkout page, when the customer follows the card's step-by-step link, types
    the Visa test card, then its OTP, then each page asks its field, the payment is SEND_OTP in between, and
    the browser lands on the success callback with SUCCESSFUL; the webhooks announce both."""
    token, reference = ng_payment(gw)
    card_page = gw.request("GET", step_link(gw.checkout(reference, token), 101))
    assert parse_step(card_page.text).fields == ["card-number"] and parse_step(card_page.text).status == "NEW"
    assert "4084084084084081" in card_page.text  # the method's test instruments are listed

    otp_page = follow(gw, post_step(gw, card_page, "4084 0840 8408 4081"))

    otp_form = parse_step(otp_page.text)
    assert (otp_form.status, otp_form.fields) == ("SEND_OTP", ["otp"])
    assert gw.status(token, reference).json()["status"] == "SEND_OTP"
    done = post_step(gw, otp_page, "123456")
    assert done.status == 303
    location = urlsplit(done.headers["Location"])
    assert location.path == "/callbacks/success"
    assert parse_qs(location.query) == {"reference": [reference], "status": ["SUCCESSFUL"]}
    server.control.flush_webhooks(5)
    assert [r.json()["status"] for r in receiver.received] == ["SEND_OTP", "SUCCESSFUL"]


def test_wallet_on_the_page_asks_phone_pin_and_otp(gw: GatewayClient, server: SandboxServer) -> None:
    token, reference = ng_payment(gw)
    choose = gw.request("GET", step_link(gw.checkout(reference, token), 107))
    assert parse_step(choose.text).fields == []  # a wallet is chosen first; its phone is asked next
    phone = follow(gw, post_step(gw, choose))
    assert (parse_step(phone.text).status, parse_step(phone.text).fields) == ("SEND_PHONE", ["phone"])
    pin = follow(gw, post_step(gw, phone, "+2348100000003"))
    assert parse_step(pin.text).fields == ["pin"]
    otp = follow(gw, post_step(gw, pin, "1234"))
    assert parse_step(otp.text).fields == ["otp"]
    assert post_step(gw, otp, "123456").headers["Location"].startswith("https://shop.test/callbacks/success")


def test_a_typo_shows_the_step_again_with_the_reason(gw: GatewayClient, server: SandboxServer) -> None:
    """Given the card page, when the number typed is not a test card, then the same page comes back with
    UNKNOWN_INSTRUMENT and the payment is unchanged; the right number then works."""
    token, reference = ng_payment(gw)
    card_page = gw.request("GET", step_link(gw.checkout(reference, token), 101))
    again = follow(gw, post_step(gw, card_page, "4111 1111 1111 1111"))
    assert parse_step(again.text).error == "UNKNOWN_INSTRUMENT" and parse_step(again.text).fields == [
        "card-number"
    ]
    assert server.control.payment(reference)["status"] == "NEW"
    assert parse_step(follow(gw, post_step(gw, again, "4084084084084081")).text).status == "SEND_OTP"


def test_reopening_the_checkout_link_resumes_the_step(gw: GatewayClient, server: SandboxServer) -> None:
    token, reference = ng_payment(gw)
    server.control.step(reference, channel_id=101, value="5060666666666666666")
    resumed = follow(gw, gw.checkout(reference, token))
    assert (parse_step(resumed.text).status, parse_step(resumed.text).fields) == ("SEND_PIN", ["pin"])


def test_cancel_on_a_step_page(gw: GatewayClient, server: SandboxServer) -> None:
    token, reference = ng_payment(gw)
    server.control.step(reference, channel_id=105)
    page = follow(gw, gw.checkout(reference, token))
    reply = post_step(gw, page, action="cancel")
    assert reply.headers["Location"].startswith("https://shop.test/callbacks/cancel")
    assert server.control.payment(reference)["status"] == "CANCELLED"


def test_a_voucher_goes_to_pay_offline_and_the_pending_callback(
    gw: GatewayClient, server: SandboxServer
) -> None:
    """Given a South African payment, when the customer chooses the voucher step by step, then it is
    PAY_OFFLINE, the browser goes to the pending callback, and the checkout page shows it pending."""
    token, created = gw.new_payment()
    reference = created["reference"]
    choose = gw.request("GET", step_link(gw.checkout(reference, token), 203))
    reply = post_step(gw, choose)
    assert parse_qs(urlsplit(reply.headers["Location"]).query)["status"] == ["PAY_OFFLINE"]
    assert urlsplit(reply.headers["Location"]).path == "/callbacks/pending"
    page = gw.checkout(reference, token)
    assert 'id="pending"' in page.text and parse_checkout(page.text).buttons == []


def test_a_step_page_is_posted_once(gw: GatewayClient) -> None:
    token, reference = ng_payment(gw)
    card_page = gw.request("GET", step_link(gw.checkout(reference, token), 101))
    assert post_step(gw, card_page, "4084084084084081").status == 303
    again = post_step(gw, card_page, "4084084084084081")
    assert again.status == 400 and 'data-error-code="INVALID_SESSION"' in again.text
    stale = gw.request("GET", "/checkout/steps?session=nope")
    assert stale.status == 400
