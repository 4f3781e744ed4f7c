"""Faults injected on demand, deterministic under a seed.

Every random decision draws from its own `random.Random` stream (one per route and kind), seeded from
the seed and the stream's name, and the streams restart whenever faults are set. So a given sequence
of requests meets the same faults every run, and turning on one fault never shifts another's draws.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, TypeVar

from .config import REFUND_REFERENCES

WILDCARD = "*"
REFUND_OUTCOMES = ("SUCCESSFUL", "FAILED", "REJECTED", "PSP_MANUAL")
REORDER_MODES = ("off", "reverse", "shuffle")
_ROUTE = re.compile(r"^[A-Z]+ /\S*$")

T = TypeVar("T")
N = TypeVar("N", int, float)


class FaultError(ValueError):
    """A fault setting that does not make sense; the control API answers 400."""


@dataclass(frozen=True)
class Faults:
    """The current fault settings. Per-route tables map ``"METHOD /path"`` (or ``"*"``) to a value."""

    latency: Mapping[str, float] = field(default_factory=dict)
    rate_429: Mapping[str, float] = field(default_factory=dict)
    rate_5xx: Mapping[str, float] = field(default_factory=dict)
    server_error_status: int = 500
    # A real rate limit: at most this many gateway API requests per window (None: unlimited).
    rate_limit_requests: int | None = None
    rate_limit_window_seconds: float = 1.0
    token_lifetime: float | None = None
    clock_skew_seconds: float = 0.0
    # The token endpoint answers 403: the credentials lack permission.
    token_forbidden: bool = False
    # Create stores the payment, then stalls this long before answering (an unknown outcome).
    create_stall_seconds: float = 0.0
    create_stall_count: int | None = None
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_delay_seconds: float = 0.0
    webhook_reorder: str = "off"
    webhook_reorder_window: int = 2
    # Attempts per webhook, overriding the config's (1: no redelivery after a failed answer).
    webhook_max_attempts: int | None = None
    # How refunds requested from now on settle (§15), and a stall after a refund is processed.
    refund_outcome: str = "SUCCESSFUL"
    refund_stall_seconds: float = 0.0
    # §15: which reference refunds must name, "payment" or "transaction" (None: the configured one).
    refund_reference: str | None = None
    seed: int | None = None

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise FaultError(f"unknown faults: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **{name: _VALIDATORS[name](name, value) for name, value in changes.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            name: dict(value) if isinstance(value, Mapping) else value for name, value in asdict(self).items()
        }

    @staticmethod
    def for_route(table: Mapping[str, float], route: str) -> float:
        return table.get(route, table.get(WILDCARD, 0.0))


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise FaultError(f"{name} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise FaultError(f"{name} must be finite")
    return number


def _route_table(check: Callable[[str, Any], float]) -> Callable[[str, Any], Mapping[str, float]]:
    def validate(name: str, value: Any) -> Mapping[str, float]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            # A bare number applies to every route.
            return {WILDCARD: check(name, value)}
        table: dict[str, float] = {}
        for route, item in value.items():
            if not isinstance(route, str) or (route != WILDCARD and not _ROUTE.match(route)):
                raise FaultError(f'{name}: route keys are "*" or "METHOD /path", not {route!r}')
            table[route] = check(f"{name}[{route}]", item)
        return table

    return validate


def _optional(check: Callable[[str, Any], T]) -> Callable[[str, Any], T | None]:
    def validate(name: str, value: Any) -> T | None:
        return None if value is None else check(name, value)

    return validate


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{name} must be a non-negative integer")
    return value


def _within(
    parse: Callable[[str, Any], N], holds: Callable[[N], bool], requirement: str
) -> Callable[[str, Any], N]:
    """``parse``, then a bound on the value (the message says what it must be)."""

    def check(name: str, value: Any) -> N:
        parsed = parse(name, value)
        if not holds(parsed):
            raise FaultError(f"{name} must {requirement}")
        return parsed

    return check


_non_negative = _within(_number, lambda number: number >= 0, "not be negative")
_positive = _within(_number, lambda number: number > 0, "be positive")
_rate = _within(_number, lambda number: 0.0 <= number <= 1.0, "be between 0 and 1")
_positive_count = _within(_count, lambda count: count >= 1, "be at least 1")


def _server_status(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 500 <= value <= 599:
        raise FaultError(f"{name} must be a 5xx status")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false")
    return value


def _reorder(name: str, value: Any) -> str:
    if value is True:
        return "reverse"
    if value is False or value is None:
        return "off"
    if value not in REORDER_MODES:
        raise FaultError(f"{name} must be one of {', '.join(REORDER_MODES)}")
    return str(value)


def _refund_outcome(name: str, value: Any) -> str:
    if value not in REFUND_OUTCOMES:
        raise FaultError(f"{name} must be one of {', '.join(REFUND_OUTCOMES)}")
    return str(value)


def _refund_reference(name: str, value: Any) -> str | None:
    if value is not None and value not in REFUND_REFERENCES:
        raise FaultError(f"{name} must be one of {', '.join(REFUND_REFERENCES)}, or null")
    return None if value is None else str(value)


def _signed(name: str, value: Any) -> float:
    return _number(name, value)


def _seed(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultError(f"{name} must be an integer")
    return value


_VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "latency": _route_table(_non_negative),
    "rate_429": _route_table(_rate),
    "rate_5xx": _route_table(_rate),
    "server_error_status": _server_status,
    "rate_limit_requests": _optional(_positive_count),
    "rate_limit_window_seconds": _positive,
    "token_lifetime": _optional(_positive),
    "clock_skew_seconds": _signed,
    "token_forbidden": _flag,
    "create_stall_seconds": _non_negative,
    "create_stall_count": _optional(_count),
    "webhook_drop_rate": _rate,
    "webhook_duplicate_rate": _rate,
    "webhook_delay_seconds": _non_negative,
    "webhook_reorder": _reorder,
    "webhook_reorder_window": _positive_count,
    "webhook_max_attempts": _optional(_positive_count),
    "refund_outcome": _refund_outcome,
    "refund_stall_seconds": _non_negative,
    "refund_reference": _refund_reference,
    "seed": _seed,
}


class FaultInjector:
    """Holds the current `Faults` and makes their random decisions; thread-safe."""

    def __init__(self, seed: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._seed = seed
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._faults = Faults()
        self._streams: dict[str, random.Random] = {}
        self._stalls_taken = 0
        self._recent: deque[float] = deque()

    @property
    def current(self) -> Faults:
        return self._faults

    def set(self, changes: Mapping[str, Any]) -> Faults:
        """Merge `changes` into the current faults and restart the random streams."""
        with self._lock:
            self._faults = self._faults.updated(changes)
            self._restart()
            return self._faults

    def clear(self) -> None:
        with self._lock:
            self._faults = Faults()
            self._restart()

    def _restart(self) -> None:
        self._streams.clear()
        self._stalls_taken = 0
        self._recent.clear()

    def _stream(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            seed = self._seed if self._faults.seed is None else self._faults.seed
            # Fault injection, not cryptography: reproducibility is the point.
            stream = self._streams[name] = random.Random(f"{seed}:{name}")  # noqa: S311
        return stream

    def chance(self, stream: str, rate: float) -> bool:
        """True with probability `rate`; 0 and 1 are certain and draw nothing."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return self._stream(stream).random() < rate

    def shuffled(self, stream: str, items: Sequence[T]) -> list[T]:
        result = list(items)
        with self._lock:
            self._stream(stream).shuffle(result)
        return result

    def latency(self, route: str) -> float:
        return Faults.for_route(self._faults.latency, route)

    def injected_status(self, route: str) -> int | None:
        """429 or 5xx when the route's rates say this request fails before being processed."""
        faults = self._faults
        if self.chance(f"429:{route}", Faults.for_route(faults.rate_429, route)):
            return 429
        if self.chance(f"5xx:{route}", Faults.for_route(faults.rate_5xx, route)):
            return faults.server_error_status
        return None

    def over_rate_limit(self) -> bool:
        """Counts this request in a sliding window; True when it exceeds `rate_limit_requests`."""
        limit = self._faults.rate_limit_requests
        if limit is None:
            return False
        now = self._monotonic()
        with self._lock:
            window = self._faults.rate_limit_window_seconds
            while self._recent and self._recent[0] <= now - window:
                self._recent.popleft()
            if len(self._recent) >= limit:
                return True
            self._recent.append(now)
            return False

    def take_create_stall(self) -> float:
        """Seconds this create should stall after processing (counts down create_stall_count)."""
        with self._lock:
            faults = self._faults
            if faults.create_stall_seconds <= 0:
                return 0.0
            if faults.create_stall_count is not None and self._stalls_taken >= faults.create_stall_count:
                return 0.0
            self._stalls_taken += 1
            return faults.create_stall_seconds
