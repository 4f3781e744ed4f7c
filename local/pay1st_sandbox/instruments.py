"""The sandbox's test instruments (§14): per country and method, what the customer types and the steps it walks.

Pay1st publishes a "test payment details" page for its sandbox (cards, wallets, bank details per country);
the contract lists what is on it, not the exact numbers, so the numbers here are illustrative (the card
numbers are the well-known public test cards of the processors these markets use). What matters is the
shape: which instrument asks for which input, in which order, and which ones fail.

An instrument is picked by its ``key`` (a card's number, a wallet's or bank app's phone number) or, for a
method with one instrument (QR, vouchers, instant EFT), by choosing the method. After that the gateway
reports one in-progress status per input it waits for (``answers``), then ``confirm`` statuses, then the
``outcome``. A wrong answer fails the payment, as a wrong OTP does at a real issuer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUCCESSFUL = "SUCCESSFUL"
FAILED = "FAILED"
# The in-progress statuses of §9, each naming what the gateway waits for.
SEND_OTP = "SEND_OTP"
SEND_PIN = "SEND_PIN"
SEND_PHONE = "SEND_PHONE"
SEND_BIRTHDAY = "SEND_BIRTHDAY"
SEND_VALIDATION_TOKEN = "SEND_VALIDATION_TOKEN"  # noqa: S105 - a status, not a password
PAY_OFFLINE = "PAY_OFFLINE"  # paid later, outside the page (voucher, instant EFT, cash)
READY = "READY"  # a QR code is ready to be scanned
VALIDATED = "VALIDATED"  # the customer's app approved; settling
IN_PROGRESS_STATUSES = frozenset(
    {SEND_OTP, SEND_PIN, SEND_PHONE, SEND_BIRTHDAY, SEND_VALIDATION_TOKEN, PAY_OFFLINE, READY, VALIDATED}
)

OTP = "123456"
PIN = "1234"


@dataclass(frozen=True)
class Instrument:
    channel_id: int
    label: str
    # What the customer types to pick it (card number, phone number); None: the method's only instrument.
    key: str | None
    # (status, the input it waits for) in order; None: no input (a QR approval, an offline payment).
    answers: tuple[tuple[str, str | None], ...] = ()
    confirm: tuple[str, ...] = ()  # reported between the last answer and the outcome
    outcome: str = SUCCESSFUL
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "channelId": self.channel_id,
            "label": self.label,
            "key": self.key,
            "steps": [{"status": status, "answer": answer} for status, answer in self.answers],
            "confirm": list(self.confirm),
            "outcome": self.outcome,
            "note": self.note,
        }


def _card(channel: int, label: str, number: str, *answers: tuple[str, str | None], **kw: Any) -> Instrument:
    return Instrument(channel, label, number, tuple(answers), **kw)


INSTRUMENTS: tuple[Instrument, ...] = (
    # Nigeria: cards (one Verve), Kuda (phone + PayID), Paga (phone + password), Palmpay, OPay QR
    _card(101, "Visa, OTP", "4084084084084081", (SEND_OTP, OTP)),
    _card(101, "Verve, PIN then OTP", "5060666666666666666", (SEND_PIN, PIN), (SEND_OTP, OTP)),
    _card(101, "Visa, declined", "4084080000005408", outcome=FAILED, note="declined by the issuer"),
    _card(
        101,
        "Mastercard, insufficient funds",
        "5078507850785078",
        (SEND_OTP, OTP),
        outcome=FAILED,
        note="fails after the OTP",
    ),
    Instrument(
        105,
        "Kuda account",
        "+2348100000001",
        ((SEND_VALIDATION_TOKEN, "KUDA-123456"),),
        note="the validation token is the PayID the Kuda app shows",
    ),
    Instrument(
        106, "Paga wallet", "+2348100000002", ((SEND_PIN, "Paga-1234"),), note="the PIN is the Paga password"
    ),
    Instrument(107, "Palmpay wallet", "+2348100000003", ((SEND_PIN, PIN), (SEND_OTP, OTP))),
    Instrument(
        107,
        "Palmpay wallet, no balance",
        "+2348100000009",
        ((SEND_PIN, PIN),),
        outcome=FAILED,
        note="fails after the PIN",
    ),
    Instrument(108, "OPay QR", None, ((READY, None),), confirm=(VALIDATED,), note="approve in the OPay app"),
    Instrument(102, "Bank transfer", None, ((PAY_OFFLINE, None),)),
    Instrument(103, "USSD", None, ((PAY_OFFLINE, None),)),
    # South Africa: cards (one with a PIN), instant EFT, vouchers (1ForYou codes come from the Implementation Manager)
    _card(201, "Visa, 3-D Secure OTP", "4000000000000002", (SEND_OTP, OTP)),
    _card(201, "Mastercard, PIN", "5200000000000007", (SEND_PIN, PIN)),
    _card(201, "Visa, declined", "4000000000000069", outcome=FAILED, note="declined by the issuer"),
    Instrument(
        202, "Ozow instant EFT", None, ((PAY_OFFLINE, None),), note="paid at the bank, outside the page"
    ),
    Instrument(203, "1Voucher / 1ForYou voucher", None, ((PAY_OFFLINE, None),), note="redeemed later"),
    # Kenya: a card (and one that asks the holder's birthday), M-Pesa, Airtel Money
    _card(301, "Visa, OTP", "4000000000001091", (SEND_OTP, OTP)),
    _card(301, "Mastercard, birthday check", "5100000000000008", (SEND_BIRTHDAY, "1990-01-01")),
    Instrument(302, "M-Pesa", "+254700000001", ((SEND_PIN, PIN),)),
    Instrument(303, "Airtel Money", "+254730000001", ((SEND_PIN, PIN),)),
    # Ghana: a card, MTN MoMo, Telecel Cash
    _card(401, "Visa, OTP", "4000000000002701", (SEND_OTP, OTP)),
    Instrument(402, "MTN MoMo", "+233240000001", ((SEND_OTP, OTP),)),
    Instrument(403, "Telecel Cash", "+233200000001", ((SEND_PIN, PIN),)),
    # Egypt: a card, Vodafone wallet (phone, PIN, OTP), Fawry cash
    _card(501, "Visa, OTP", "4000000000003063", (SEND_OTP, OTP)),
    Instrument(503, "Vodafone wallet", "+201000000001", ((SEND_PIN, "123456"), (SEND_OTP, OTP))),
    Instrument(502, "Fawry cash", None, ((PAY_OFFLINE, None),), note="paid at a Fawry outlet"),
    # Morocco: cards, one asking a phone number
    _card(601, "Visa, OTP", "4000000000000010", (SEND_OTP, OTP)),
    _card(
        601,
        "Mastercard, asks a phone number",
        "5100000000000016",
        (SEND_PHONE, "+212600000001"),
        (SEND_OTP, OTP),
    ),
)


def of_channel(channel_id: int) -> list[Instrument]:
    return [instrument for instrument in INSTRUMENTS if instrument.channel_id == channel_id]


def find(channel_id: int, key: str | None) -> Instrument | None:
    """The channel's instrument with this key (spaces ignored, as a card field would); its only one for None."""
    typed = None if key is None else "".join(key.split())
    return next((i for i in of_channel(channel_id) if i.key == typed), None)
