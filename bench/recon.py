"""Benchmark of reconciliation: a lost-webhook backlog, and how fresh young payments stay.

Prints:
1. backlog: 2,000 open payments whose webhooks were all lost (paid at the gateway), the Pay1st sandbox
   (its own process, real HTTP on loopback) answering status queries with 200 ms latency, the poller's
   budget 20 queries/s: the time until all are reconciled (limit 2,000 / 20 = 100 s; target <= 110 s) and
   status queries per payment (the sandbox's own counter; target 1). The real poller, thread pool and
   budget run in real time; the runs are scheduled as in Lambda (one a minute, Timeout 55 s, deadline 1.5 s
   before it), and the idle seconds between the end of a run and the next minute are simulated (not slept),
   then counted in the time. Payments are stored in the in-memory store (the same contract as DynamoDB, see
   tests/partner/test_payment_store_contract.py): the figure is about the gateway budget, not moto's speed.
2. freshness: 1,000 open payments of mixed ages (200 under 10 minutes, 800 from 10 minutes to 47 hours)
   plus 20 new payments a minute, none ever settling (the worst case: every one stays due), the same
   budget, one simulated hour of poller runs. Simulated time (a virtual clock; each query costs its
   budget slot, 1/20 s, and 200 ms of latency is added to when it is answered): the longest a young (under
   10 minutes old) payment waited for a check after it was due, and the longest from creation to its
   first check (target <= 2 minutes).
3. at scale: ``bench/recon_scale.py`` (10,000 open payments, 5 queries/s).

Run: ``.venv/bin/python bench/recon.py [freshness] [backlog]`` (from the repository root; both when none is
named, as ``make bench`` runs it); backlog takes about 2 minutes of real time, freshness about half a minute.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# The figures are the output: the poller's INFO logs are not (its metric lines are swallowed, see quiet()).
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
for entry in (str(REPO / "layers" / "pay1st"), str(REPO / "local")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from pay1st.client import ClientConfig, Pay1stClient  # noqa: E402
from pay1st.config import Credentials  # noqa: E402
from pay1st.models import PaymentDetails, PaymentRequest, Product  # noqa: E402
from pay1st_partner.fingerprints import fingerprint  # noqa: E402
from pay1st_partner.payments.reconcile import Reconciler  # noqa: E402
from pay1st_partner.payments.repository import PaymentRepository  # noqa: E402
from pay1st_partner.poller import StatusPoller  # noqa: E402
from pay1st_partner.store.memory.store import InMemoryPaymentStore  # noqa: E402
from pay1st_sandbox.client import SandboxControl  # noqa: E402
from pay1st_sandbox.config import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_SIGNING_KEY  # noqa: E402

BACKLOG = 2000
BUDGET = 20.0  # status queries per second
LATENCY = 0.2
CONCURRENCY = 8  # the template's POLL_CONCURRENCY
SCHEDULE_PERIOD = 60.0  # rate(1 minute)
RUN_SECONDS = 55.0 - 1.5  # Timeout 55 s, less runtime.DEADLINE_SAFETY_SECONDS
QUERY_INTERVAL = 15.0  # STATUS_QUERY_MIN_INTERVAL_SECONDS
STATUS_ROUTE = "GET /api/pay1st/payments"
# The sandbox's published defaults (not secrets).
CREDENTIALS = Credentials(
    api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, signing_key=DEFAULT_SIGNING_KEY
)


class NoEvents:
    """The publisher's place: events are not what this measures (publish() accepts them all)."""

    def publish(self, events: Any, outbox: Any) -> list[Any]:
        for event in events:
            outbox.clear_event(event.partner_reference, event.event_id)
        return list(events)


def request(partner_reference: str) -> PaymentRequest:
    return PaymentRequest(
        amount=Decimal("250.50"),
        country_code="ZA",
        currency_code="ZAR",
        partner_reference=partner_reference,
        products=(Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
        metadata=(),
    )


def quiet() -> contextlib.AbstractContextManager[Any]:
    """Powertools prints a metric line per transition to stdout (EMF, CloudWatch's input): not figures."""
    return contextlib.redirect_stdout(io.StringIO())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def backlog() -> bool:
    port = _free_port()
    sandbox = subprocess.Popen(  # noqa: S603 - our own sandbox, by module name
        [sys.executable, "-m", "pay1st_sandbox", "--port", str(port)],
        cwd=REPO / "local",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        control = SandboxControl(base_url)
        for _ in range(100):
            try:
                if control.health():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        return _backlog_against(base_url, control)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def _backlog_against(base_url: str, control: SandboxControl) -> bool:
    client = Pay1stClient(ClientConfig(base_url=base_url, pay_url=base_url), CREDENTIALS)
    store = InMemoryPaymentStore()
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    setup = PaymentRepository(store, clock=lambda: two_minutes_ago)
    control.set_faults(webhook_drop_rate=1.0)

    def open_and_pay(index: int) -> None:
        wanted = request(f"bench-recon-{index:05d}")
        setup.claim(wanted, fingerprint(wanted), None)
        created = client.create_payment(wanted)
        setup.mark_created(wanted.partner_reference, created)
        control.settle(created.reference, "pay")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(open_and_pay, range(BACKLOG)))
    print(
        f"set-up: {BACKLOG} payments created and paid at the sandbox, webhooks all dropped "
        f"({time.perf_counter() - started:.0f} s, not counted)"
    )
    control.set_faults(latency={STATUS_ROUTE: LATENCY})
    control.reset_counters()

    payments = PaymentRepository(store)
    reconciler = Reconciler(payments, client, NoEvents(), min_query_interval=QUERY_INTERVAL)  # type: ignore[arg-type]
    poller = StatusPoller(
        payments=payments,
        reconciler=reconciler,
        publisher=NoEvents(),  # type: ignore[arg-type]
        batch_size=25,
        queries_per_second=BUDGET,
        concurrency=CONCURRENCY,
    )
    elapsed = 0.0  # real seconds in runs, plus simulated idle seconds between them
    runs = 0

    def still_open() -> int:  # paid ones stay on the watch list (until fulfilled): count the open ones
        return len(payments.open_payments(older_than=datetime.now(UTC) + timedelta(days=1), limit=BACKLOG))

    while still_open():
        runs += 1
        start = time.monotonic()
        with quiet():
            report = poller.run(deadline=start + RUN_SECONDS)
        took = time.monotonic() - start
        left = still_open()
        print(f"  run {runs}: checked {report.checked} in {took:.1f} s, {left} left")
        elapsed += took if not left else SCHEDULE_PERIOD
        if runs > 10:
            break
    open_left = still_open()
    queries = int(control.counters()["requests"].get(STATUS_ROUTE, 0))
    print(
        f"backlog of {BACKLOG} lost webhooks, {LATENCY * 1000:.0f} ms status latency, budget {BUDGET:.0f}/s, "
        f"{CONCURRENCY} threads: all reconciled in {elapsed:.0f} s (limit {BACKLOG / BUDGET:.0f} s, target <= 110 s; "
        f"{runs} runs, idle time between runs simulated), {open_left} left open; "
        f"status queries per payment {queries / BACKLOG:.2f} (target 1)"
    )
    met = open_left == 0 and elapsed <= 110 and queries <= BACKLOG
    if not met:
        print("  target NOT met")
    return met


# ------------------------------------------------------------------------------------- freshness


class VirtualTime:
    """One simulated clock for the poller's clock, monotonic and sleep (the budget sleeps through it)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.seconds = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds


class OpenForever:
    """The gateway's §9 answer for payments nobody pays: NEW; notes when each was asked, and when due."""

    def __init__(self, store: InMemoryPaymentStore, time_: VirtualTime) -> None:
        self._store = store
        self._time = time_
        self.asked: list[tuple[str, datetime, str]] = []  # partnerReference, when, nextCheckAt then

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails:
        partner_reference = reference.removeprefix("C-").removesuffix("-P")
        item = self._store.item(partner_reference) or {}
        answered = self._time.now() + timedelta(seconds=LATENCY)
        self.asked.append((partner_reference, answered, str(item.get("nextCheckAt", ""))))
        return PaymentDetails(
            reference=reference,
            partner_reference=partner_reference,
            status="NEW",
            amount=Decimal("250.50"),
            currency_code="ZAR",
            country_code="ZA",
            channel_id=None,
            channel_name=None,
            raw={},
        )


def _open_payment(store: InMemoryPaymentStore, name: str, created: datetime, schedule: Any = None) -> None:
    from pay1st.models import CreatedPayment
    from pay1st_partner.check_schedule import DEFAULT_SCHEDULE

    repo = PaymentRepository(store, clock=lambda: created, schedule=schedule or DEFAULT_SCHEDULE)
    wanted = request(name)
    repo.claim(wanted, fingerprint(wanted), None)
    repo.mark_created(
        name,
        CreatedPayment(
            reference=f"C-{name}-P",
            partner_reference=name,
            status="NEW",
            amount=wanted.amount,
            currency_code="ZAR",
            country_code="ZA",
        ),
    )


def virtual_poller(
    store: InMemoryPaymentStore, gateway: Any, time_: Any, schedule: Any, budget: float, **options: Any
) -> StatusPoller:
    """The status poller on ``store`` and ``gateway`` in virtual time (``time_``), ``budget`` queries a second."""
    payments = PaymentRepository(store, clock=time_.now, schedule=schedule)
    reconciler = Reconciler(payments, gateway, NoEvents(), min_query_interval=QUERY_INTERVAL)  # type: ignore[arg-type]
    return StatusPoller(
        payments=payments,
        reconciler=reconciler,
        publisher=NoEvents(),  # type: ignore[arg-type]
        batch_size=25,
        queries_per_second=budget,
        concurrency=1,  # one thread keeps the virtual clock deterministic; the budget sets the pace
        clock=time_.now,
        monotonic=time_.monotonic,
        sleep=time_.sleep,
        **options,
    )


def freshness(schedule: Any = None) -> bool:
    from pay1st_partner.check_schedule import DEFAULT_SCHEDULE
    from pay1st_partner.clock import parse_iso

    schedule = schedule or DEFAULT_SCHEDULE
    rng = random.Random(14)
    time_ = VirtualTime(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    store = InMemoryPaymentStore()
    start = time_.now()
    created: dict[str, datetime] = {}
    for index in range(1000):
        age = rng.uniform(0, 600) if index < 200 else rng.uniform(600, 47 * 3600)
        name = f"fresh-{index:04d}"
        created[name] = start - timedelta(seconds=age)
        _open_payment(store, name, created[name], schedule)
    gateway = OpenForever(store, time_)
    poller = virtual_poller(store, gateway, time_, schedule, BUDGET)
    arrivals = 0
    for minute in range(60):
        tick = minute * SCHEDULE_PERIOD
        # Payments created during the last minute, at their own times.
        while arrivals < 20 * minute:
            name = f"new-{arrivals:04d}"
            created[name] = start + timedelta(seconds=(arrivals / 20) * SCHEDULE_PERIOD)
            _open_payment(store, name, created[name])
            arrivals += 1
        time_.seconds = max(time_.seconds, tick)
        with quiet():
            poller.run(deadline=tick + RUN_SECONDS)
    waits: list[float] = []
    first_check: dict[str, float] = {}
    for name, when, due in gateway.asked:
        age = (when - created[name]).total_seconds()
        if age < 600 and due:
            # From when it was due, or from the start for one due before the simulation began.
            waits.append((when - max(parse_iso(due), start)).total_seconds())
        if name.startswith("new-"):
            first_check.setdefault(name, age)
    young_first = list(first_check.values())
    print(
        f"freshness: 1000 open payments of mixed ages (200 under 10 minutes) + 20 new a minute, none settling, "
        f"budget {BUDGET:.0f}/s, one simulated hour ({len(gateway.asked)} checks): a young payment waited at "
        f"most {max(waits):.0f} s for a due check (median {sorted(waits)[len(waits) // 2]:.0f} s, "
        f"{len(waits)} checks); a new payment's first check at most {max(young_first):.0f} s after it was created "
        f"(target <= 120 s; simulated time)"
    )
    met = max(young_first) <= 120 and max(waits) <= 120
    if not met:
        print("  target NOT met")
    return met


def main() -> int:
    which = sys.argv[1:] or ["freshness", "backlog"]
    met = True
    if "freshness" in which:
        met = freshness() and met
    if "backlog" in which:
        met = backlog() and met
    return 0 if met else 1  # make bench reports a missed target


if __name__ == "__main__":
    sys.exit(main())
