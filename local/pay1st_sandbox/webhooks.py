"""Payment webhooks (§10): signed (``signing-key`` like §4, or ``basic-auth``), sent from a background
worker, retried with backoff, logged. The scheme (and the hex case) can be changed at run time.

One worker thread sends deliveries in due order, so without faults a payment's events arrive in the
order they happened; the faults (drop, duplicate, delay, reorder) are applied when an event is queued.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3

from . import jsonutil
from .config import HEX_CASES, WEBHOOK_SCHEMES, SandboxConfig
from .counters import Counters
from .faults import FaultInjector
from .signing import basic_auth_sign, format_timestamp, sign

logger = logging.getLogger("pay1st_sandbox.webhooks")

QUEUED = "queued"
DELAYED = "delayed"
HELD = "held"
SENDING = "sending"
RETRYING = "retrying"
DELIVERED = "delivered"
FAILED = "failed"
DROPPED = "dropped"


@dataclass(frozen=True)
class WebhookEvent:
    """One status change to announce: where to, the exact body bytes, and what it is about."""

    event_id: str
    url: str
    body: bytes
    reference: str
    partner_reference: str
    status: str


@dataclass
class Attempt:
    number: int
    at: str
    status_code: int | None
    error: str | None
    duration_ms: float
    response_body: str

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at,
            "statusCode": self.status_code,
            "error": self.error,
            "durationMs": round(self.duration_ms, 1),
            "responseBody": self.response_body,
        }


@dataclass
class Delivery:
    id: str
    event: WebhookEvent
    created_at: str
    duplicate_of: str | None = None
    state: str = QUEUED
    attempts: list[Attempt] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "eventId": self.event.event_id,
            "url": self.event.url,
            "reference": self.event.reference,
            "partnerReference": self.event.partner_reference,
            "status": self.event.status,
            "state": self.state,
            "duplicateOf": self.duplicate_of,
            "createdAt": self.created_at,
            "body": self.event.body.decode("utf-8"),
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


class WebhookDispatcher:
    def __init__(
        self,
        config: SandboxConfig,
        faults: FaultInjector,
        counters: Counters,
        clock: Callable[[], float],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._faults = faults
        self._counters = counters
        self._clock = clock
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._log: list[Delivery] = []
        self._due: list[tuple[float, int, Delivery]] = []
        self._held: list[Delivery] = []
        self._sending = 0
        self._ids = itertools.count(1)
        self._order = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._scheme = config.webhook_scheme
        self._hex_case = config.webhook_hex_case
        # The worker does its own retrying (with its own log), so urllib3 must not retry or redirect.
        self._http = urllib3.PoolManager(
            retries=False,
            timeout=urllib3.Timeout(connect=min(2.0, config.webhook_timeout), read=config.webhook_timeout),
        )

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopped = False
            self._thread = threading.Thread(target=self._run, name="pay1st-sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            # Not the full webhook timeout: a worker stuck in a DNS lookup must not slow stop(); it is a
            # daemon thread and exits on its own once the lookup returns.
            thread.join(timeout=1.0)
        self._http.clear()

    def announce(
        self,
        url: str,
        document: Callable[[str], dict[str, Any]],
        *,
        reference: str,
        partner_reference: str,
        status: str,
    ) -> None:
        """Submit a status change under a fresh event id; ``document(event_id)`` is the body."""
        event_id = uuid.uuid4().hex
        self.submit(
            WebhookEvent(
                event_id=event_id,
                url=url,
                body=jsonutil.dumps(document(event_id)),
                reference=reference,
                partner_reference=partner_reference,
                status=status,
            )
        )

    def submit(self, event: WebhookEvent) -> None:
        """Queue an event, applying the webhook faults (drop, duplicate, delay, reorder)."""
        faults = self._faults.current
        with self._cond:
            original = self._new_delivery(event)
            if self._faults.chance("webhook-drop", faults.webhook_drop_rate):
                original.state = DROPPED
                self._counters.incr("webhooks_dropped")
                logger.info("webhook %s for %s dropped by fault", original.id, event.reference)
                return
            copies = [original]
            if self._faults.chance("webhook-duplicate", faults.webhook_duplicate_rate):
                copies.append(self._new_delivery(event, duplicate_of=original.id))
                self._counters.incr("webhooks_duplicated")
            reordering = faults.webhook_reorder != "off"
            if self._held and not reordering:  # the fault was cleared while deliveries were held
                self._release_held()
            for delivery in copies:
                self._counters.incr("webhooks_queued")
                if reordering:
                    delivery.state = HELD
                    self._held.append(delivery)
                else:
                    self._schedule(delivery, faults.webhook_delay_seconds)
            if reordering and len(self._held) >= faults.webhook_reorder_window:
                self._release_held()
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Release held deliveries and wait until nothing is queued, delayed, retrying or being sent."""
        deadline = self._monotonic() + timeout
        with self._cond:
            while True:
                if self._held:
                    self._release_held()
                    self._cond.notify_all()
                if not self._due and not self._sending:
                    return True
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def signing(self) -> dict[str, str]:
        with self._cond:
            return {"scheme": self._scheme, "hexCase": self._hex_case}

    def set_signing(self, scheme: str | None = None, hex_case: str | None = None) -> dict[str, str]:
        """Sign later attempts with ``scheme`` (``signing-key``/``basic-auth``) in ``hex_case``."""
        if scheme is not None and scheme not in WEBHOOK_SCHEMES:
            raise ValueError(f"scheme must be one of {WEBHOOK_SCHEMES}")
        if hex_case is not None and hex_case not in HEX_CASES:
            raise ValueError(f"hexCase must be one of {HEX_CASES}")
        with self._cond:
            self._scheme = scheme or self._scheme
            self._hex_case = hex_case or self._hex_case
        return self.signing()

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cond:
            return [delivery.to_json() for delivery in self._log]

    def reset(self) -> None:
        """Forget the log and anything not yet sent."""
        with self._cond:
            self._log.clear()
            self._due.clear()
            self._held.clear()
            self._scheme = self._config.webhook_scheme
            self._hex_case = self._config.webhook_hex_case
            self._cond.notify_all()

    # -- internals (call with self._cond held unless noted) --

    def _new_delivery(self, event: WebhookEvent, duplicate_of: str | None = None) -> Delivery:
        delivery = Delivery(
            id=f"wh-{next(self._ids):05d}",
            event=event,
            created_at=format_timestamp(self._clock()),
            duplicate_of=duplicate_of,
        )
        self._log.append(delivery)
        return delivery

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        if delivery.state != RETRYING:
            delivery.state = DELAYED if delay > 0 else QUEUED
        heapq.heappush(self._due, (self._monotonic() + delay, next(self._order), delivery))

    def _release_held(self) -> None:
        faults = self._faults.current
        held, self._held = self._held, []
        if faults.webhook_reorder == "shuffle":
            ordered = self._faults.shuffled("webhook-reorder", held)
        elif faults.webhook_reorder == "reverse":
            ordered = list(reversed(held))
        else:  # the fault was cleared while deliveries were held: send them as they came
            ordered = held
        for delivery in ordered:
            self._schedule(delivery, faults.webhook_delay_seconds)

    def _backoff(self, attempts_made: int) -> float:
        # No jitter: retries are deterministic, which is what a test of the retry schedule needs.
        return min(
            self._config.webhook_backoff_cap, self._config.webhook_backoff_base * 2.0 ** (attempts_made - 1)
        )

    def _next_due(self) -> Delivery | None:
        """Wait for the next due delivery; None once stopped."""
        while not self._stopped:
            now = self._monotonic()
            if self._due and self._due[0][0] <= now:
                return heapq.heappop(self._due)[2]
            self._cond.wait(self._due[0][0] - now if self._due else None)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery = self._next_due()
                if delivery is None:
                    return
                delivery.state = SENDING
                self._sending += 1
                number = len(delivery.attempts) + 1
            attempt = self._post(delivery.event, number)  # outside the lock: the partner may be slow
            with self._cond:
                self._sending -= 1
                delivery.attempts.append(attempt)
                self._counters.incr("webhook_attempts")
                if number == 1:
                    self._counters.incr("webhooks_sent")
                if attempt.status_code is not None and 200 <= attempt.status_code < 300:
                    delivery.state = DELIVERED
                    self._counters.incr("webhooks_delivered")
                elif number < (
                    self._faults.current.webhook_max_attempts or self._config.webhook_max_attempts
                ):
                    delivery.state = RETRYING
                    self._schedule(delivery, self._backoff(number))
                else:
                    delivery.state = FAILED
                    self._counters.incr("webhooks_failed")
                    logger.warning(
                        "webhook %s for %s failed after %d attempts",
                        delivery.id,
                        delivery.event.reference,
                        number,
                    )
                self._cond.notify_all()

    def _post(self, event: WebhookEvent, number: int) -> Attempt:
        # Signed afresh per attempt (like §4): a retry carries the time it is sent at.
        timestamp = format_timestamp(self._clock())
        with self._cond:
            scheme, hex_case = self._scheme, self._hex_case
        headers = {"Content-Type": "application/json", "User-Agent": "Pay1st-Sandbox-Webhooks/1.0"}
        if scheme == "basic-auth":  # no timestamp in this scheme
            signature = basic_auth_sign(
                self._config.webhook_username, self._config.webhook_password, event.body
            )
        else:
            signature = sign(self._config.signing_key, timestamp, event.body)
            headers["X-TIMESTAMP"] = timestamp
        headers["X-SIGNATURE"] = signature.upper() if hex_case == "upper" else signature
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        response_body = ""
        try:
            response = self._http.request("POST", event.url, body=event.body, headers=headers, redirect=False)
            status_code = response.status
            response_body = response.data[:500].decode("utf-8", "replace")
        except urllib3.exceptions.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # keep the worker alive whatever the partner's URL does; log why
            logger.exception("webhook %s to %s raised", event.event_id, event.url)
            error = f"{type(exc).__name__}: {exc}"
        return Attempt(
            number=number,
            at=timestamp,
            status_code=status_code,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
            response_body=response_body,
        )
