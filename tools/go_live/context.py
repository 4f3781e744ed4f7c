"""What the steps share: the target, the options, and what earlier steps found (credentials, token, payment)."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from pay1st.client import Credentials, Pay1stClient
from pay1st.tokens import Token

from go_live.target import Target

# A small test amount per country (currency, amount); --currency/--amount for any other.
TEST_AMOUNTS: Mapping[str, tuple[str, str]] = {
    "NG": ("NGN", "100.00"),
    "ZA": ("ZAR", "10.00"),
    "KE": ("KES", "100.00"),
    "GH": ("GHS", "5.00"),
    "EG": ("EGP", "20.00"),
}
TEST_SKU = "GO-LIVE-CHECK"


@dataclass
class Options:
    countries: tuple[str, ...] = ("NG", "ZA")
    webhook_timeout: float = 120.0
    status_timeout: float = 30.0
    fulfilment_timeout: float = 60.0
    currency: str | None = None  # default: from TEST_AMOUNTS for the first country
    amount: str | None = None
    compare_with: str | None = None  # the sandbox stack a production stack is compared with
    compare_parameters: Mapping[str, str] | None = None  # that stack's parameters (read by the caller)
    poll_interval: float = 2.0
    refund: bool = False  # --refund: refund the test payment (staging only) to learn Pay1st's reference (§15)


@dataclass
class Check:
    target: Target
    options: Options
    progress: IO[str] = field(default_factory=lambda: sys.stdout)  # countdowns and the link to pay
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    credentials: Credentials | None = None
    client: Pay1stClient | None = None
    token: Token | None = None
    payment: dict[str, Any] = field(default_factory=dict)  # partnerReference, reference, amount, ...

    def say(self, text: str) -> None:
        self.progress.write(text + "\n")
        self.progress.flush()


class Countdown:
    """A visible, bounded wait: ``\\r`` on a terminal, else one line every ``every`` seconds."""

    def __init__(self, out: IO[str], what: str, seconds: float, *, every: float = 10.0) -> None:
        self.out = out
        self.what = what
        self.deadline = time.monotonic() + seconds
        self.every = every
        self._tty = bool(getattr(out, "isatty", lambda: False)())
        self._last_line = time.monotonic()
        self._shown = False

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining <= 0

    def tick(self) -> None:
        text = f"      waiting for {self.what}: {self.remaining:.0f} s left"
        if self._tty:
            self.out.write(f"\r{text}   ")
            self._shown = True
        elif time.monotonic() - self._last_line >= self.every:
            self.out.write(text + "\n")
            self._last_line = time.monotonic()
        self.out.flush()

    def done(self) -> None:
        if self._tty and self._shown:
            self.out.write("\r" + " " * 72 + "\r")
            self.out.flush()
