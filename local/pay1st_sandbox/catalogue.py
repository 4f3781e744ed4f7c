"""Payment methods per country, in the §6 shape (groups → channel entries).

The channels are the kind Pay1st offers in these markets (cards, mobile money, instant EFT, bank
transfer, USSD, vouchers and cash); ids are stable so tests and checkout links can name them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ACTIVE = "ACTIVE"
SUSPENDED = "SUSPENDED"

# Method families (§14): each walks its own steps on the hosted page (``flows``).
CARD_FAMILY = "card"  # card number, then PIN and/or OTP (some ask a phone or a birthday)
WALLET_FAMILY = "wallet"  # phone number, then PIN and/or OTP
BANK_APP_FAMILY = "bank-app"  # phone number, then the app's validation token
QR_FAMILY = "qr"  # a QR code to scan, approved in the app
OFFLINE = "offline"  # vouchers, instant EFT, cash, bank transfer, USSD: paid later, outside the page
FAMILY_OF_METHOD = {
    "CARD": CARD_FAMILY,
    "WALLET": WALLET_FAMILY,
    "MOBILE_MONEY": WALLET_FAMILY,
    "BANK_APP": BANK_APP_FAMILY,
    "QR": QR_FAMILY,
}


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    code: str


@dataclass(frozen=True)
class ChannelEntry:
    """One channel entry; `entry_id` is what a checkout link's channelId takes."""

    entry_id: int
    country: str
    group: Group
    name: str
    code: str
    payment_method: str
    method_type: str
    required_parameters: tuple[dict[str, Any], ...] = ()
    offline: bool = False
    status: str = ACTIVE

    @property
    def family(self) -> str:
        """How the hosted page walks this method step by step (§14; ``flows``)."""
        return FAMILY_OF_METHOD.get(self.payment_method, OFFLINE)

    def to_json(self) -> dict[str, Any]:
        channel_id = self.entry_id * 10
        return {
            "id": self.entry_id,
            "paymentOption": {
                "id": self.entry_id * 100,
                "name": self.name,
                "code": f"{self.country}_{self.code}",
                "status": self.status,
            },
            "channel": {
                "id": channel_id,
                "name": self.name,
                "code": self.code,
                "paymentMethod": self.payment_method,
                "status": self.status,
                "channelCode": f"{self.code}_{self.country}",
                "imageLocation": f"/static/channels/{self.code.lower()}.svg",
            },
            "paymentMethodType": {
                "id": self.group.id,
                "name": self.method_type,
                "code": self.payment_method,
                # §6: requiredParameters is a JSON document encoded as a string.
                "requiredParameters": json.dumps({"fields": list(self.required_parameters)}),
                "offline": self.offline,
            },
        }


CARDS = Group(1, "Cards", "CARD")
MOBILE_MONEY = Group(2, "Mobile Money", "MOBILE_MONEY")
BANK = Group(3, "Bank Transfer", "BANK_TRANSFER")
EFT = Group(4, "Instant EFT", "INSTANT_EFT")
CASH = Group(5, "Cash and Vouchers", "CASH")
USSD = Group(6, "USSD", "USSD")
WALLETS = Group(7, "Wallets", "WALLET")
BANK_APPS = Group(8, "Bank Apps", "BANK_APP")
QR_CODES = Group(9, "QR", "QR")


def _phone(country_prefix: str, digits: int) -> dict[str, Any]:
    return {
        "name": "msisdn",
        "label": "Mobile number",
        "type": "PHONE",
        "required": True,
        "pattern": rf"^\+{country_prefix}\d{{{digits}}}$",
    }


def _mobile_money(
    entry_id: int, country: str, name: str, code: str, phone_prefix: str, digits: int, status: str = ACTIVE
) -> ChannelEntry:
    """A mobile-money channel: the Mobile Money group and method, paid from a phone number."""
    return ChannelEntry(
        entry_id,
        country,
        MOBILE_MONEY,
        name,
        code,
        "MOBILE_MONEY",
        "Mobile Money",
        (_phone(phone_prefix, digits),),
        status=status,
    )


_EMAIL = {"name": "email", "label": "Email", "type": "EMAIL", "required": True}
_BANK = {"name": "bankCode", "label": "Bank", "type": "SELECT", "required": True}

CHANNELS: tuple[ChannelEntry, ...] = (
    # Nigeria
    ChannelEntry(101, "NG", CARDS, "Visa / Mastercard / Verve", "CARD_PAYSTACK", "CARD", "Card", (_EMAIL,)),
    ChannelEntry(102, "NG", BANK, "Bank Transfer", "BANK_TRANSFER_NG", "BANK_TRANSFER", "Bank Transfer"),
    ChannelEntry(103, "NG", USSD, "USSD", "USSD_NG", "USSD", "USSD", (_BANK,)),
    ChannelEntry(
        104, "NG", WALLETS, "OPay", "OPAY", "WALLET", "Wallet", (_phone("234", 10),), status=SUSPENDED
    ),
    ChannelEntry(105, "NG", BANK_APPS, "Kuda Bank", "KUDA", "BANK_APP", "Bank App", (_phone("234", 10),)),
    ChannelEntry(106, "NG", WALLETS, "Paga", "PAGA", "WALLET", "Wallet", (_phone("234", 10),)),
    ChannelEntry(107, "NG", WALLETS, "Palmpay", "PALMPAY", "WALLET", "Wallet", (_phone("234", 10),)),
    ChannelEntry(108, "NG", QR_CODES, "OPay QR", "OPAY_QR", "QR", "QR"),
    # South Africa
    ChannelEntry(201, "ZA", CARDS, "Visa / Mastercard", "CARD_PEACH", "CARD", "Card", (_EMAIL,)),
    ChannelEntry(202, "ZA", EFT, "Ozow Instant EFT", "OZOW", "INSTANT_EFT", "Instant EFT"),
    ChannelEntry(203, "ZA", CASH, "1Voucher", "ONE_VOUCHER", "VOUCHER", "Voucher", offline=True),
    ChannelEntry(204, "ZA", WALLETS, "SnapScan", "SNAPSCAN", "WALLET", "Wallet", status=SUSPENDED),
    # Kenya
    ChannelEntry(301, "KE", CARDS, "Visa / Mastercard", "CARD_KE", "CARD", "Card", (_EMAIL,)),
    _mobile_money(302, "KE", "M-Pesa", "MPESA", "254", 9),
    _mobile_money(303, "KE", "Airtel Money", "AIRTEL_KE", "254", 9),
    # Ghana
    ChannelEntry(401, "GH", CARDS, "Visa / Mastercard", "CARD_GH", "CARD", "Card", (_EMAIL,)),
    _mobile_money(402, "GH", "MTN MoMo", "MTN_GH", "233", 9),
    _mobile_money(403, "GH", "Telecel Cash", "TELECEL_GH", "233", 9),
    _mobile_money(404, "GH", "AirtelTigo Money", "AIRTELTIGO_GH", "233", 9, status=SUSPENDED),
    # Egypt
    ChannelEntry(501, "EG", CARDS, "Visa / Mastercard / Meeza", "CARD_EG", "CARD", "Card", (_EMAIL,)),
    ChannelEntry(502, "EG", CASH, "Fawry", "FAWRY", "CASH", "Cash", (_phone("20", 10),), offline=True),
    ChannelEntry(503, "EG", WALLETS, "Vodafone Cash", "VODAFONE_EG", "WALLET", "Wallet", (_phone("20", 10),)),
    # Morocco
    ChannelEntry(601, "MA", CARDS, "Visa / Mastercard (CMI)", "CARD_MA", "CARD", "Card", (_EMAIL,)),
)

COUNTRIES = tuple(sorted({entry.country for entry in CHANNELS}))


def entries_for(country: str) -> list[ChannelEntry]:
    return [entry for entry in CHANNELS if entry.country == country]


def find_entry(country: str, entry_id: int) -> ChannelEntry | None:
    return next((entry for entry in entries_for(country) if entry.entry_id == entry_id), None)


def grouped(country: str) -> list[tuple[Group, list[ChannelEntry]]]:
    """The country's entries grouped by payment-method group, in group id order."""
    groups: dict[Group, list[ChannelEntry]] = {}
    for entry in entries_for(country):
        groups.setdefault(entry.group, []).append(entry)
    return sorted(groups.items(), key=lambda item: item[0].id)


def payment_methods_document(country: str) -> dict[str, Any]:
    """The §6 200 body; an unsupported country simply has no groups."""
    return {
        "data": {
            "groups": [
                {
                    "id": group.id,
                    "name": group.name,
                    "imageLocation": f"/static/groups/{group.code.lower()}.svg",
                    "channels": [entry.to_json() for entry in entries],
                }
                for group, entries in grouped(country)
            ]
        }
    }
