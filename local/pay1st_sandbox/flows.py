"""Walking a payment through its method's steps (§14), as pure functions of where it is and what was typed.

The hosted page's step form and the control API's ``steps`` route both call :func:`advance`; the state
records the statuses it returns, in order, each with its webhook. Where the contract lists the steps of a
family, they are followed: a card asks ``SEND_PIN`` or ``SEND_OTP`` once its number is typed; a wallet asks
``SEND_PHONE`` as soon as it is chosen, then ``SEND_PIN``/``SEND_OTP``; a bank app ``SEND_PHONE`` then its
token; vouchers and instant EFT go to ``PAY_OFFLINE`` and settle later. Where it is silent, a QR method
reports ``READY`` (the code is shown), then ``VALIDATED`` once the app approves, then the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import instruments
from .catalogue import CARD_FAMILY, ChannelEntry
from .instruments import FAILED, PAY_OFFLINE, SEND_PHONE, Instrument

# Families whose instrument is picked by a phone number typed at SEND_PHONE.
_PHONE_FIRST = frozenset({"wallet", "bank-app"})


class StepRefused(Exception):
    """The input cannot be taken (not a test instrument, nothing to type now); the payment is unchanged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FlowPosition:
    """Where a payment is in its method's steps: ``instrument`` None while the phone number is awaited."""

    channel_id: int
    instrument: Instrument | None
    index: int  # into instrument.answers: the answer awaited now


@dataclass(frozen=True)
class Advance:
    statuses: tuple[str, ...]  # what the gateway reports now, in order (the last one is current)
    position: FlowPosition


def advance(position: FlowPosition | None, channel: ChannelEntry, value: str | None) -> Advance:
    """The next statuses: the method is chosen (``position`` None), or ``value`` answers the current step."""
    typed = (value or "").strip()
    if position is None:
        return _start(channel, typed)
    if position.instrument is None:
        return _pick(channel, typed, what="phone number")
    instrument = position.instrument
    status, expected = instrument.answers[position.index]
    if status == PAY_OFFLINE:
        raise StepRefused("PAID_OFFLINE", "This payment is made offline; it settles once the money arrives.")
    if expected is not None and typed != expected:
        # A wrong OTP or PIN fails the payment, as it does at an issuer; the customer starts a new payment.
        return Advance((FAILED,), position)
    return _after(instrument, position.index + 1)


def _start(channel: ChannelEntry, typed: str) -> Advance:
    if channel.family == CARD_FAMILY:
        return _pick(channel, typed, what="card number")
    if channel.family in _PHONE_FIRST:
        if typed:
            raise StepRefused("NOTHING_TO_ANSWER", "Choose the method first; its phone number is asked next.")
        return Advance((SEND_PHONE,), FlowPosition(channel.entry_id, None, 0))
    return _pick(channel, None, what="instrument")


def _pick(channel: ChannelEntry, key: str | None, *, what: str) -> Advance:
    instrument = instruments.find(channel.entry_id, key)
    if instrument is None:
        raise StepRefused(
            "UNKNOWN_INSTRUMENT", f"Not a test {what} of {channel.name}: see the sandbox's test instruments."
        )
    return _after(instrument, 0)


def _after(instrument: Instrument, index: int) -> Advance:
    """The status awaiting answer ``index``, or (all answered) the confirmations and the outcome."""
    position = FlowPosition(instrument.channel_id, instrument, index)
    if index < len(instrument.answers):
        return Advance((instrument.answers[index][0],), position)
    return Advance((*instrument.confirm, instrument.outcome), position)
