"""A gateway request budget shared by the poller's threads: at most ``rate`` requests a second.

Pay1st rate-limits the partner as a whole (429 rate limited): if reconciliation used the limit up, creates
- which make money - would be refused. So the poller spaces its status queries at ``1/rate`` seconds
(``STATUS_QUERIES_PER_SECOND``), evenly, with no burst: a burst is exactly what would collide with a
checkout peak. A caller reserves the next free slot and sleeps until it; a slot past ``until`` is not
reserved (the run is out of time). Our own few lines, not a library: the rule is one line of arithmetic
under a lock, and it must sleep through an injected clock for tests and the benchmark.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestBudget:
    def __init__(
        self,
        rate: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = float("-inf")

    def acquire(self, *, until: float) -> bool:
        """Wait for the next request slot; False (nothing reserved) when it would start after ``until``."""
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next_free)
            if slot > until:
                return False
            self._next_free = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
        return True
