"""The gateway client's transport, in process: a request goes to :class:`sim.gateway.SimPay1st`, not a socket.

It keeps ``pay1st.transport.Transport``'s contract (an HTTP answer, or ``TransportError`` classified as
NOT_SENT or SENT) so the client's retry loop, token handling and error mapping run as in Lambda. Faults, while
on: 429 with ``Retry-After``, a 5xx before the gateway did anything, a 5xx after it stored the request, an
answer later than the attempt's timeout (the request was processed), a refused connection (never sent).
The call is a scheduler boundary before it is sent and after the answer: a crash there loses the answer.
"""

from __future__ import annotations

import random
from typing import Any

from pay1st.retry import NOT_SENT, SENT
from pay1st.transport import Response, TransportError

from sim.clock import VirtualClock
from sim.gateway import SimPay1st
from sim.scheduler import Scheduler


class GatewayFaults:
    def __init__(self, rng: random.Random, sched: Scheduler) -> None:
        self.rng = rng
        self.sched = sched
        self.rates = {"429": 0.0, "500_before": 0.0, "503_after": 0.0, "timeout_after": 0.0, "refused": 0.0}
        self.counts: dict[str, int] = {}
        self.latency = (0.02, 0.4)  # seconds, uniform

    def pick(self) -> str | None:
        if not self.sched.faults_on:
            return None
        point = self.rng.random()
        for kind, rate in self.rates.items():
            if point < rate:
                self.counts[kind] = self.counts.get(kind, 0) + 1
                return kind
            point -= rate
        return None


class SimTransport:
    def __init__(
        self, gateway: SimPay1st, sched: Scheduler, faults: GatewayFaults, clock: VirtualClock, world: Any
    ) -> None:
        self.gateway = gateway
        self.sched = sched
        self.faults = faults
        self.clock = clock
        self.world = world
        self.pool = None
        self.calls = 0

    def send(self, method: str, url: str, *, headers: Any, body: bytes | None, timeout: Any) -> Response:
        path = url.split("?", 1)[0].split("/api/pay1st", 1)[-1]
        self.sched.boundary(f"gateway {method} {path}")  # killed before sending: the gateway never saw it
        self.calls += 1
        limit = _seconds(timeout)
        fault = self.faults.pick()
        low, high = self.faults.latency
        latency = low + self.rng_uniform() * (high - low)
        if fault == "refused":
            raise TransportError(NOT_SENT, "NewConnectionError")
        if fault == "429":
            self._wait(latency, limit)
            return Response(
                429, {"Retry-After": "1"}, b'{"errorCode":"TOO_MANY_REQUESTS","sessionId":"s-429"}'
            )
        if fault == "500_before":
            self._wait(latency, limit)
            return Response(500, {}, b'{"errorCode":"INTERNAL_ERROR","sessionId":"s-500"}')
        self._wait(latency / 2, limit)
        status, payload = self.gateway.handle(method, url, dict(headers), body)
        self.world.trace(None, f"pay1st {method} {path} -> {status}")
        if fault == "503_after":
            status, payload = 503, b'{"errorCode":"SERVICE_UNAVAILABLE","sessionId":"s-503"}'
        if fault == "timeout_after":
            self.clock.sleep(max(0.0, limit - latency / 2))
            raise TransportError(SENT, "ReadTimeoutError")
        self._wait(latency / 2, limit)
        self.sched.boundary(
            f"gateway {method} {path}:answer"
        )  # killed after: the gateway did it, the answer is lost
        return Response(status, {"Content-Type": "application/json"}, payload)

    def rng_uniform(self) -> float:
        return self.faults.rng.random()

    def _wait(self, seconds: float, limit: float) -> None:
        if seconds > limit:
            self.clock.sleep(limit)
            raise TransportError(SENT, "ReadTimeoutError")
        self.clock.sleep(seconds)

    def close(self) -> None:
        return None


def _seconds(timeout: Any) -> float:
    total = getattr(timeout, "total", None)
    read = getattr(timeout, "_read", None)
    values = [v for v in (total, read) if isinstance(v, int | float)]
    return min(values) if values else 10.0
