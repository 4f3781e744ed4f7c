"""The bundle's own wiring (``pay1st_partner.runtime``), pointed at the simulated world.

Only the edges are replaced, as a deployment would replace them: the payments store factory (the in-memory
store, or DynamoDB on moto), the boto3 clients (EventBridge, SQS, the webhook events table), the credentials
secret, the token cache, the gateway client's transport and jitter, and the poller's thread pool (checks run
one after another in the poller's own invocation: the scheduler is the only concurrency). The functions'
``app.py`` modules are imported as they are and called with API Gateway events.
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib.util
import logging
import os
import random
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = (
    "create_payment",
    "create_refund",
    "fulfilment",
    "fulfilment_sender",
    "payment_status",
    "status_poller",
    "webhook_intake",
    "callback_redirect",
)

ENVIRONMENT = {
    "PAYMENTS_TABLE": "PaymentsTable",
    "WEBHOOK_EVENTS_TABLE": "WebhookEventsTable",
    "LOCKS_TABLE": "LocksTable",
    "CREDENTIALS_SECRET_NAME": "pay1st/credentials",
    "TOKEN_PARAMETER_NAME": "/pay1st/token",
    "EVENT_BUS_NAME": "pay1st-events",
    "FULFILMENT_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/fulfilment",
    "PAY1ST_API_BASE_URL": "https://pay1st.sim",
    "PAY1ST_PAY_BASE_URL": "https://pay.pay1st.sim",
    "RESULT_PAGE_URL": "https://shop.example.com/payment-result",
    "PUBLIC_BASE_URL": "https://api.example.com",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "STATUS_QUERY_MIN_INTERVAL_SECONDS": "15",
    "POLL_BATCH_SIZE": "25",
    "POLL_CONCURRENCY": "8",
}


def prepare_environment(tables: dict[str, str]) -> dict[str, str | None]:
    """Set the functions' environment (the template's Globals, pointed at the world; ``tables``: the table
    names of a DynamoDB world); returns what to restore."""
    saved = {name: os.environ.get(name) for name in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    if "PaymentsTable" in tables:
        os.environ["PAYMENTS_TABLE"] = tables["PaymentsTable"]
    if "WebhookEventsTable" in tables:
        os.environ["WEBHOOK_EVENTS_TABLE"] = tables["WebhookEventsTable"]
    for path in (ROOT / "layers" / "pay1st", ROOT / "tools"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    return saved


def restore_environment(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def load_functions() -> dict[str, types.ModuleType]:
    """Each function's ``app.py`` as its own module (all are named ``app``, as Lambda loads them)."""
    loaded: dict[str, types.ModuleType] = {}
    for name in FUNCTIONS:
        module_name = f"sim_fn_{name}"
        if module_name in sys.modules:
            loaded[name] = sys.modules[module_name]
            continue
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    return loaded


def import_layer() -> None:
    """Import every module of the layer now, so the virtual clock reaches the ones the functions import lazily."""
    import pkgutil

    import pay1st
    import pay1st_partner

    for package in (pay1st, pay1st_partner):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)


class SyncExecutor:
    """The poller's pool, run inline: each check completes in the poller's invocation before the next."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> SyncExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - as a thread pool keeps it for result()
            future.set_exception(exc)
        return future


class GreenLock:
    """``threading.Lock`` for code that may switch greenlets while holding it (the token manager calls the
    gateway under its lock): a waiter parks on the virtual clock instead of blocking the one real thread. A
    lock held by an invocation that was killed is free: its container died with it (Lambda kills the process)."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._owner: Any = None
        self._held = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        from sim.scheduler import running

        waited = 0.0
        while self._held and not (self._owner is not None and self._owner.dead):
            if not blocking or (timeout >= 0 and waited >= timeout):
                return False
            self._sleep(0.05)
            waited += 0.05
        self._held = True
        self._owner = running()
        return True

    def release(self) -> None:
        self._held = False
        self._owner = None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def quiet_logs(quiet: bool = True) -> None:
    """The functions' logs cost more than the rest of a run; the trace says what happened instead."""
    from pay1st_partner.observability import logger

    logging.getLogger(logger.name).disabled = quiet
    logging.getLogger("pay1st").disabled = quiet


def seeded_random(rng: random.Random) -> types.SimpleNamespace:
    return types.SimpleNamespace(Random=lambda *args: random.Random(rng.getrandbits(64)))


def cached(factory: Callable[[], Any]) -> Any:
    return functools.cache(factory)
