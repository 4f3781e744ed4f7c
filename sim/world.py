"""The world: the bundle wired to the simulated services, the invocations it runs, and the trace it keeps.

:class:`World` owns the seed's random stream, the clock, the scheduler, the simulated Pay1st and AWS, and
calls the functions' real ``lambda_handler``s with API Gateway / SQS / schedule events. What happens is
written to the trace, one line per step, per payment: the same seed writes the same trace, byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sim import wiring
from sim.aws import EventBus, Faults, Queue, StoreProxy, WebhookTable
from sim.clock import Installation, VirtualClock, install
from sim.gateway import SimPay1st
from sim.scheduler import Crash, Invocation, Scheduler
from sim.transport import GatewayFaults, SimTransport


@dataclass
class Secret:
    """The credentials secret as the functions read it (through Powertools' 300 s cache: ``seen`` lags)."""

    api_key: str = "ak-1"
    api_secret: str = "as-1"
    signing_key: str = "sk-1"
    basic_user: str = "hooks"
    basic_password: str = "pw-1"
    previous_signing: list[tuple[str, float]] = field(default_factory=list)  # (key, accept until: epoch s)
    version: int = 1


class LambdaContext:
    function_name = "sim"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:sim"
    memory_limit_in_mb = 512
    aws_request_id = "sim"
    log_group_name = "/aws/lambda/sim"
    log_stream_name = "sim"

    def __init__(self, clock: VirtualClock, timeout: float) -> None:
        self._clock = clock
        self._deadline = clock.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.monotonic()) * 1000))


class World:
    def __init__(
        self,
        seed: int,
        *,
        store: str = "memory",
        dynamodb_client: Any = None,
        tables: dict[str, str] | None = None,
    ) -> None:
        self._saved_environment = wiring.prepare_environment(tables or {})
        import warnings

        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = VirtualClock()
        self.sched = Scheduler(self.clock, self.rng)
        self.faults = Faults(self.rng, self.sched)
        self.secret = Secret()
        self.seen_secret = Secret()
        # The Signing Key Pay1st signs its webhooks with: after a rotation it moves to the new key later than
        # the secret does (run._rotate), so both keys are in use for a while.
        self.pay1st_signing_key = self.secret.signing_key
        # Set by the invariant checker (sim.invariants.Checker) when it is attached to this world.
        self.violation: Callable[[str, str | None, str], None] = _no_checker
        self.check_view: Callable[[str, int, Any, Any], None] = _no_checker
        self.skew = 0.0
        self.gateway = SimPay1st(
            lambda: self.clock.time() + self.skew, api_key="ak-1", api_secret="as-1", signing_key="sk-1"
        )
        self.gateway_faults = GatewayFaults(self.rng, self.sched)
        self.transport = SimTransport(self.gateway, self.sched, self.gateway_faults, self.clock, self)
        self.trace_lines: list[str] = []
        self.by_payment: dict[str, list[int]] = {}
        self.metrics: dict[str, float] = {}
        self.write_count: dict[str, int] = {}
        self.published: dict[str, int] = {}  # event id -> times EventBridge accepted it
        self.published_detail: dict[str, dict[str, Any]] = {}
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.write_listeners: list[Callable[[Invocation | None, str, str | None, Any], None]] = []
        self.bus = EventBus(self.sched, self.faults, self._on_event)
        self.queue = Queue(self.sched, self.faults, visibility=360.0, max_receives=12)
        self._store_kind = store
        self._dynamodb_client = dynamodb_client
        self._installation: Installation | None = None
        self.functions: dict[str, Any] = {}
        self.store: Any = None
        self.webhook_table: Any = None

    # ---------------------------------------------------------------- wiring

    def start(self) -> None:
        import pay1st.client
        import pay1st.tokens
        import pay1st_partner.poller
        from pay1st.client import Credentials
        from pay1st.webhook_credentials import BasicAuthKey, SigningKey, WebhookCredentials
        from pay1st_partner import observability, runtime
        from pay1st_partner.store.memory.store import InMemoryPaymentStore

        self.functions = wiring.load_functions()
        wiring.import_layer()
        import pay1st_ops.actions  # noqa: F401 - loaded before the clock is installed into it

        wiring.quiet_logs()
        runtime.reset()
        if self._store_kind == "memory":
            raw_store: Any = InMemoryPaymentStore()
            receipts: Callable[[], dict[str, Any]] = lambda: raw_store.receipts  # noqa: E731
        else:
            from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

            raw_store = DynamoDBPaymentStore(os.environ["PAYMENTS_TABLE"], client=self._dynamodb_client)
            receipts = lambda: {}  # noqa: E731 - on DynamoDB, receipts are in the webhook table itself
        self.raw_store = raw_store
        self.store = StoreProxy(raw_store, self.sched, self.faults, self._on_write)
        if self._store_kind == "memory":
            self.webhook_table = WebhookTable(self.sched, self.faults, receipts)
        else:
            from sim.moto_table import MotoWebhookTable

            self.webhook_table = MotoWebhookTable(self._dynamodb_client, self.sched, self.faults)
        clients = {"events": self.bus, "sqs": self.queue, "dynamodb": self.webhook_table}
        token_store = pay1st.tokens.InMemoryTokenStore(clock=self.clock.time)
        secret = self.seen_secret

        def credentials() -> Any:
            return Credentials(secret.api_key, secret.api_secret, secret.signing_key)

        def webhook_credentials() -> Any:
            now = self.clock.datetime()
            from datetime import UTC, datetime

            keys = [SigningKey(secret.signing_key)]
            keys += [
                SigningKey(key, datetime.fromtimestamp(until, UTC)) for key, until in secret.previous_signing
            ]
            _ = now
            return WebhookCredentials(tuple(keys), (BasicAuthKey(secret.basic_user, secret.basic_password),))

        def count(name: str, value: float = 1, **dimensions: str) -> None:
            self.metrics[name] = self.metrics.get(name, 0) + value

        patches: dict[str, Any] = {}
        inst = install(self.clock, patches)
        sleep = self.clock.sleep
        from pay1st_partner.wiring import Services

        # The bundle's one wiring, with the payments store of the world (cached_property: set once, read after).
        services = Services(runtime.settings(), client=runtime.boto3_client, gateway=runtime.gateway)
        services.__dict__["payments_store"] = self.store
        inst.set_attr(runtime, "services", wiring.cached(lambda: services))
        inst.set_attr(runtime, "_new_boto3_client", lambda service: clients[service])
        inst.set_attr(runtime, "_token_store", lambda: token_store)
        inst.set_attr(runtime, "credentials", credentials)
        inst.set_attr(runtime, "webhook_credentials", webhook_credentials)
        inst.set_attr(runtime, "callback_key", lambda: b"callback-key-sim")
        inst.set_attr(runtime, "previous_callback_keys", lambda: ())
        inst.set_attr(pay1st.client, "Transport", lambda pool: self.transport)
        inst.set_attr(pay1st.client, "random", wiring.seeded_random(self.rng))
        inst.set_attr(pay1st.tokens, "threading", _GreenThreading(sleep))
        inst.set_attr(pay1st_partner.poller, "ThreadPoolExecutor", wiring.SyncExecutor)
        # (The PaidNotFulfilled gauge is counted by the poller's own run from the watch list: nothing to patch.)
        for module in _modules_with(observability.count):
            inst.set_attr(module, "count", count)
        self._installation = inst
        # A killed invocation takes its container with it: the next one builds the gateway client (and its
        # in-memory token and lock) again, reading the shared token cache.
        self.sched.on_crash_hook = lambda invocation, label: runtime.gateway.cache_clear()

    def stop(self) -> None:
        from pay1st_partner import runtime

        try:
            self.sched.close()  # while the world is still installed: what unwinds runs in it
        finally:
            if self._installation is not None:
                self._installation.uninstall()
                self._installation = None
            runtime.reset()
            wiring.quiet_logs(False)
            wiring.restore_environment(self._saved_environment)
            self.clock.park = None

    def peek(self, partner_reference: str) -> dict[str, Any] | None:
        """The stored item of a payment, to read only (the checker looks after every write). On the in-memory
        store its own dict, not a copy: ``item()`` copies it, and the checker's copies were 7% of a run. On
        DynamoDB a read (``item()``)."""
        items = getattr(self.raw_store, "_items", None)
        if isinstance(items, dict):
            found = items.get(partner_reference)
            return found if isinstance(found, dict) else None
        found = self.raw_store.item(partner_reference)
        return found if isinstance(found, dict) else None

    # ----------------------------------------------------------------- trace

    def trace(self, payment: str | None, text: str) -> None:
        invocation = self.sched.current
        who = f"#{invocation.ident}" if invocation is not None else "-"
        line = f"{self.clock.now:12.3f} {who:>7} {payment or '-'} {text}"
        self.trace_lines.append(line)
        if payment is not None:
            self.by_payment.setdefault(payment, []).append(len(self.trace_lines) - 1)

    def _on_event(self, detail: dict[str, Any]) -> None:
        event_id = str(detail["eventId"])
        self.published[event_id] = self.published.get(event_id, 0) + 1
        self.published_detail.setdefault(event_id, detail)
        self.trace(detail.get("partnerReference"), f"event {event_id} published")
        for listener in self.event_listeners:
            listener(detail)

    def _on_write(self, name: str, payment: str | None, result: Any) -> None:
        invocation = self.sched.current
        if payment is not None:
            self.write_count[payment] = self.write_count.get(payment, 0) + 1
            if invocation is not None:
                invocation.touched.add(payment)
                invocation.own_writes += 1
        outcome = " refused" if result is False else ""
        self.trace(payment, f"store.{name}{outcome}")
        for listener in self.write_listeners:
            listener(invocation, name, payment, result)

    # ------------------------------------------------------------ invoking

    def http(
        self,
        function: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        path_params: dict[str, str] | None = None,
    ) -> Callable[[], Any]:
        """A call of ``function``'s handler with an HTTP API event; returns (status, body, headers)."""
        handler = self.functions[function].lambda_handler
        event = http_event(method, path, body=body, headers=headers, query=query, path_params=path_params)

        def call() -> tuple[int, Any, dict[str, str]]:
            answer = handler(event, LambdaContext(self.clock, 15.0))
            raw = answer.get("body") or ""
            if answer.get("isBase64Encoded"):
                raw = base64.b64decode(raw).decode()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            return int(answer["statusCode"]), parsed, dict(answer.get("headers") or {})

        return call

    def run(
        self,
        name: str,
        payment: str | None,
        call: Callable[[], Any],
        *,
        delay: float = 0.0,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
        crashable: bool = True,
    ) -> None:
        """Invoke ``call`` as one Lambda run after ``delay``; ``failed`` hears of a crash or an unhandled error."""

        def on_done(result: Any) -> None:
            if done is not None:
                done(result)

        def on_error(exc: BaseException) -> None:
            self.trace(payment, f"{name} raised {type(exc).__name__}: {str(exc)[:80]}")
            if failed is not None:
                failed("error")

        def on_crash(label: str) -> None:
            self.trace(payment, f"{name} CRASHED at {label}")
            if failed is not None:
                failed("crash")

        self.sched.invoke(Invocation(name, payment, call, on_done, on_error, on_crash, crashable), delay)

    def choose(self, weights: dict[str, float]) -> str:
        total = sum(weights.values())
        point = self.rng.random() * total
        for key, weight in weights.items():
            point -= weight
            if point < 0:
                return key
        return next(iter(weights))


def _no_checker(*args: Any) -> None:
    raise RuntimeError("no invariant checker is attached to this world (sim.invariants.Checker)")


class _GreenThreading:
    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep

    def Lock(self) -> wiring.GreenLock:
        return wiring.GreenLock(self._sleep)


def _modules_with(value: Any) -> list[Any]:
    import sys

    return [
        m
        for n, m in sorted(sys.modules.items())
        if m is not None
        and n.startswith(("pay1st_partner", "pay1st_ops"))
        and getattr(m, "count", None) is value
    ]


def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the partner's call or Pay1st's webhook arrives."""
    all_headers = {"content-type": "application/json", "host": "api.example.com"}
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "sim",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "sim",
            },
            "requestId": "sim",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_params:
        event["pathParameters"] = dict(path_params)
    if body is not None:
        event["body"] = (
            body
            if isinstance(body, str)
            else (body.decode() if isinstance(body, bytes) else json.dumps(body))
        )
    return event


__all__ = ["Crash", "LambdaContext", "World", "http_event"]
