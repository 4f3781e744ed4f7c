"""Counters tests assert on: requests per route, token calls, payments, fulfilments, webhooks."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

# Always present in a snapshot, so a test can assert `== 0` before anything happened.
NAMED = (
    "tokens_issued",
    "tokens_refreshed",
    "payments_created",
    "fulfilments_received",
    "checkout_views",
    "checkout_actions",
    "status_changes",
    "faults_injected",
    "webhooks_queued",
    "webhooks_sent",
    "webhook_attempts",
    "webhooks_delivered",
    "webhooks_failed",
    "webhooks_dropped",
    "webhooks_duplicated",
)


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._named: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._named[name] += amount

    def request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def error(self, code: str) -> None:
        with self._lock:
            self._errors[code] += 1

    def reset(self) -> None:
        with self._lock:
            self._named.clear()
            self._requests.clear()
            self._errors.clear()

    def snapshot(self) -> dict[str, Any]:
        """Flat: named counters and ``"METHOD /path": n`` side by side; also ``requests`` and ``errors``."""
        with self._lock:
            flat: dict[str, Any] = {name: self._named[name] for name in NAMED}
            flat.update(self._named)
            flat.update(self._requests)
            flat["requests"] = dict(self._requests)
            flat["errors"] = dict(self._errors)
            return flat
