"""§14 per-method flows, driven through the control API: each family's steps, as in-progress statuses (§9)
that the status query answers and the webhooks announce, and the test instruments that fail."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pay1st_sandbox import SandboxControlError, SandboxServer
from sandbox_kit import GatewayClient, WebhookReceiver

COUNTRIES = {"EG": "EGP", "GH": "GHS", "KE": "KES", "MA": "MAD", "NG": "NGN", "ZA": "ZAR"}


def new_payment(gw: GatewayClient, country: str) -> tuple[str, str]:
    """Given a payment of 100 in the country's currency: (access token, Pay1st reference)."""
    currency = COUNTRIES[country]
    product = {
        "title": "Gems",
        "sku": "GEM-1",
        "price": Decimal(100),
        "quantity": 1,
        "currencyCode": currency,
    }
    token, created = gw.new_payment(
        countryCode=country, currencyCode=currency, amount=Decimal(100), products=[product]
    )
    return token, str(created["reference"])


def walk(
    gw: GatewayClient, server: SandboxServer, country: str, channel_id: int, *inputs: str
) -> tuple[str, list[str]]:
    """Choose the method (typing the first input, for a card), answer each later step; the status query's
    answer after each call, and the Pay1st reference."""
    token, reference = new_payment(gw, country)
    seen = []
    first, *rest = inputs or (None,)
    server.control.step(reference, channel_id=channel_id, value=first)
    seen.append(gw.status(token, reference).json()["status"])
    for value in rest:
        server.control.step(reference, value=value)
        seen.append(gw.status(token, reference).json()["status"])
    return reference, seen


def announced(server: SandboxServer, receiver: WebhookReceiver, reference: str) -> list[str]:
    server.control.flush_webhooks(5)
    return [r.json()["status"] for r in receiver.received if r.json()["reference"] == reference]


def instruments(server: SandboxServer, country: str) -> list[dict[str, Any]]:
    return server.control.instruments(country)


def test_every_country_lists_its_methods_with_test_instruments(server: SandboxServer) -> None:
    """Given the §14 countries, when their test instruments are listed, then each has a card, every active
    method has at least one instrument, and the methods §14 names are there."""
    families = {country: {i["family"] for i in instruments(server, country)} for country in COUNTRIES}
    assert all("card" in found for found in families.values()), families
    assert families["EG"] >= {"wallet", "offline"} and families["NG"] >= {"wallet", "bank-app", "qr"}
    assert families["ZA"] >= {"offline"}
    names = {i["channelName"] for i in instruments(server, "NG")}
    assert {"Kuda Bank", "Paga", "Palmpay", "OPay QR"} <= names
    ng_cards = {i["label"] for i in instruments(server, "NG") if i["family"] == "card"}
    assert any("Verve" in label for label in ng_cards)
    za_card_steps = [
        [s["status"] for s in i["steps"]] for i in instruments(server, "ZA") if i["family"] == "card"
    ]
    assert ["SEND_PIN"] in za_card_steps and ["SEND_OTP"] in za_card_steps
    ma_card_steps = [[s["status"] for s in i["steps"]] for i in instruments(server, "MA")]
    assert ["SEND_PHONE", "SEND_OTP"] in ma_card_steps  # a Moroccan card that asks a phone number
    listed = {i["channelId"] for i in server.control.instruments()}
    gw = GatewayClient(server.base_url)
    token = gw.access_token()
    for country in COUNTRIES:
        groups = gw.methods(token, country).json()["data"]["groups"]
        active = {e["id"] for g in groups for e in g["channels"] if e["channel"]["status"] == "ACTIVE"}
        assert active <= listed, (country, active - listed)


def test_card_with_otp(gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver) -> None:
    """Given a Nigerian payment, when the customer types the Visa test card then its OTP, then the gateway
    asks SEND_OTP (status query and webhook) and the payment ends SUCCESSFUL."""
    reference, seen = walk(gw, server, "NG", 101, "4084 0840 8408 4081", "123456")
    assert seen == ["SEND_OTP", "SUCCESSFUL"]
    assert announced(server, receiver, reference) == ["SEND_OTP", "SUCCESSFUL"]
    assert server.control.payment(reference)["channelName"] == "Visa / Mastercard / Verve"


def test_verve_card_with_pin_then_otp(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    reference, seen = walk(gw, server, "NG", 101, "5060666666666666666", "1234", "123456")
    assert seen == ["SEND_PIN", "SEND_OTP", "SUCCESSFUL"]
    assert announced(server, receiver, reference) == seen


@pytest.mark.parametrize(
    ("country", "channel", "inputs", "statuses"),
    [
        ("ZA", 201, ("5200000000000007", "1234"), ["SEND_PIN", "SUCCESSFUL"]),
        ("KE", 301, ("5100000000000008", "1990-01-01"), ["SEND_BIRTHDAY", "SUCCESSFUL"]),
        (
            "MA",
            601,
            ("5100000000000016", "+212600000001", "123456"),
            ["SEND_PHONE", "SEND_OTP", "SUCCESSFUL"],
        ),
    ],
    ids=["za-card-pin", "ke-card-birthday", "ma-card-phone"],
)
def test_cards_of_other_countries(
    gw: GatewayClient,
    server: SandboxServer,
    country: str,
    channel: int,
    inputs: tuple[str, ...],
    statuses: list[str],
) -> None:
    assert walk(gw, server, country, channel, *inputs)[1] == statuses


def test_wallet_by_phone_then_pin_then_otp(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Given an Egyptian payment, when the customer chooses Vodafone wallet, then the gateway asks the phone
    (SEND_PHONE), the PIN and the OTP in turn, and the payment ends SUCCESSFUL."""
    token, reference = new_payment(gw, "EG")
    assert server.control.step(reference, channel_id=503)["status"] == "SEND_PHONE"
    assert server.control.step(reference, value="+201000000001")["status"] == "SEND_PIN"
    assert server.control.step(reference, value="123456")["status"] == "SEND_OTP"
    assert gw.status(token, reference).json()["status"] == "SEND_OTP"
    assert server.control.step(reference, value="123456")["status"] == "SUCCESSFUL"
    assert announced(server, receiver, reference) == ["SEND_PHONE", "SEND_PIN", "SEND_OTP", "SUCCESSFUL"]


def test_bank_app_by_phone_then_validation_token(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    token, reference = new_payment(gw, "NG")
    server.control.step(reference, channel_id=105)
    server.control.step(reference, value="+2348100000001")
    assert gw.status(token, reference).json()["status"] == "SEND_VALIDATION_TOKEN"
    server.control.step(reference, value="KUDA-123456")
    assert announced(server, receiver, reference) == ["SEND_PHONE", "SEND_VALIDATION_TOKEN", "SUCCESSFUL"]


def test_qr_is_ready_then_validated_then_paid(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Given a Nigerian payment, when the customer chooses OPay QR and approves in the app, then the gateway
    reports READY, then VALIDATED and SUCCESSFUL, each with its webhook."""
    token, reference = new_payment(gw, "NG")
    server.control.step(reference, channel_id=108)
    assert gw.status(token, reference).json()["status"] == "READY"
    server.control.step(reference)
    assert announced(server, receiver, reference) == ["READY", "VALIDATED", "SUCCESSFUL"]


@pytest.mark.parametrize(
    ("country", "channel"), [("ZA", 202), ("ZA", 203), ("EG", 502)], ids=["eft", "voucher", "cash"]
)
def test_voucher_and_instant_eft_are_paid_offline_later(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver, country: str, channel: int
) -> None:
    """Given a payment, when the customer chooses a voucher, instant EFT or cash, then it waits PAY_OFFLINE
    (nothing more to type), and settles SUCCESSFUL once the money arrives (here: the control API)."""
    token, reference = new_payment(gw, country)
    server.control.step(reference, channel_id=channel)
    assert gw.status(token, reference).json()["status"] == "PAY_OFFLINE"
    with pytest.raises(SandboxControlError) as refused:
        server.control.step(reference, value="anything")
    assert (refused.value.status, refused.value.code) == (400, "PAID_OFFLINE")
    server.control.settle(reference, "settle-offline")
    assert announced(server, receiver, reference) == ["PAY_OFFLINE", "SUCCESSFUL"]


def test_pay_offline_settles_by_itself(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    server = start_sandbox(default_webhook_url=receiver.url, offline_settle_seconds=0.1)
    gw = GatewayClient(server.base_url)
    _, reference = new_payment(gw, "ZA")
    server.control.step(reference, channel_id=203)
    receiver.wait_for(2)
    assert announced(server, receiver, reference) == ["PAY_OFFLINE", "SUCCESSFUL"]


@pytest.mark.parametrize(
    ("country", "channel", "inputs", "statuses"),
    [
        ("NG", 101, ("4084080000005408",), ["FAILED"]),
        ("NG", 101, ("5078507850785078", "123456"), ["SEND_OTP", "FAILED"]),
        ("NG", 101, ("4084084084084081", "000000"), ["SEND_OTP", "FAILED"]),
        ("ZA", 201, ("4000000000000069",), ["FAILED"]),
    ],
    ids=["declined", "insufficient-funds", "wrong-otp", "za-declined"],
)
def test_instruments_that_should_fail_do_fail(
    gw: GatewayClient,
    server: SandboxServer,
    receiver: WebhookReceiver,
    country: str,
    channel: int,
    inputs: tuple[str, ...],
    statuses: list[str],
) -> None:
    reference, seen = walk(gw, server, country, channel, *inputs)
    assert seen == statuses
    assert announced(server, receiver, reference) == statuses


def test_a_wallet_without_balance_fails_after_its_pin(gw: GatewayClient, server: SandboxServer) -> None:
    _, reference = new_payment(gw, "NG")
    server.control.step(reference, channel_id=107)
    server.control.step(reference, value="+2348100000009")
    assert server.control.step(reference, value="1234")["status"] == "FAILED"


def test_an_unknown_instrument_is_refused_and_changes_nothing(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Given a payment, when the typed card or phone number is not a test instrument, then the step is
    refused (400 UNKNOWN_INSTRUMENT) and the payment stays where it was, with no webhook."""
    token, reference = new_payment(gw, "NG")
    with pytest.raises(SandboxControlError) as card:
        server.control.step(reference, channel_id=101, value="4111111111111111")
    assert (card.value.status, card.value.code) == (400, "UNKNOWN_INSTRUMENT")
    assert gw.status(token, reference).json()["status"] == "NEW"
    server.control.step(reference, channel_id=107)
    with pytest.raises(SandboxControlError) as phone:
        server.control.step(reference, value="+2340000000000")
    assert phone.value.code == "UNKNOWN_INSTRUMENT"
    assert announced(server, receiver, reference) == ["SEND_PHONE"]


def test_steps_need_a_method_an_open_payment_and_the_same_method(
    gw: GatewayClient, server: SandboxServer
) -> None:
    _, reference = new_payment(gw, "NG")
    with pytest.raises(SandboxControlError) as no_channel:
        server.control.step(reference, value="4084084084084081")
    assert (no_channel.value.status, no_channel.value.code) == (400, "UNKNOWN_CHANNEL")
    with pytest.raises(SandboxControlError) as foreign:
        server.control.step(reference, channel_id=201)  # a South African method
    assert foreign.value.code == "UNKNOWN_CHANNEL"
    server.control.step(reference, channel_id=107)
    with pytest.raises(SandboxControlError) as switched:
        server.control.step(reference, channel_id=106)
    assert (switched.value.status, switched.value.code) == (409, "CHANNEL_CHOSEN")
    server.control.settle(reference, "cancel")  # a payment part-way through its steps can still be cancelled
    with pytest.raises(SandboxControlError) as final:
        server.control.step(reference, value="+2348100000003")
    assert (final.value.status, final.value.code) == (409, "INVALID_TRANSITION")


def test_every_test_instrument_reaches_its_outcome(gw: GatewayClient, server: SandboxServer) -> None:
    """Given every listed test instrument, when its steps are answered as listed, then the payment ends
    with the listed outcome (offline ones wait PAY_OFFLINE)."""
    for instrument in server.control.instruments():
        _, reference = new_payment(gw, instrument["countryCode"])
        phone_first = instrument["family"] in ("wallet", "bank-app")
        server.control.step(
            reference, channel_id=instrument["channelId"], value=None if phone_first else instrument["key"]
        )
        if phone_first:
            server.control.step(reference, value=instrument["key"])
        status = server.control.payment(reference)["status"]
        for step in instrument["steps"]:
            if step["status"] == "PAY_OFFLINE":
                break
            status = server.control.step(reference, value=step["answer"])["status"]
        expected = "PAY_OFFLINE" if instrument["family"] == "offline" else instrument["outcome"]
        assert status == expected, instrument
