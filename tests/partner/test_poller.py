"""Status poller: time-bounded runs over the payments due for a check, within a gateway budget, the give-up
rule, plus the outbox sweep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pay1st_partner.events import EventPublisher
from pay1st_partner.observability import metrics
from pay1st_partner.payments.reconcile import Reconciler
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.poller import StatusPoller

from tests.partner.helpers import Clock, FakeGateway


def _raw(aws: Any, partner_reference: str) -> dict[str, Any]:
    item: dict[str, Any] = aws.dynamodb.get_item(
        TableName="PaymentsTable", Key={"partnerReference": {"S": partner_reference}}
    )["Item"]
    return item


@pytest.fixture
def due_reads(repo: PaymentRepository, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(limit asked for, payments found) of every read of the due payments, in order."""
    reads: list[tuple[int, int]] = []
    due_payments = repo.due_payments

    def counted(**kwargs: Any) -> Any:
        found = due_payments(**kwargs)
        reads.append((kwargs["limit"], len(found)))
        return found

    monkeypatch.setattr(repo, "due_payments", counted)
    return reads


def make_poller(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    clock: Clock,
    *,
    batch_size: int = 25,
    monotonic: Callable[[], float] = time.monotonic,
    concurrency: int = 1,
    queries_per_second: float = 50.0,
    sleep: Callable[[float], None] = lambda seconds: None,
    give_up_after: timedelta = timedelta(hours=48),
) -> StatusPoller:
    return StatusPoller(
        payments=repo,
        reconciler=reconciler,
        publisher=publisher,
        batch_size=batch_size,
        clock=clock,
        monotonic=monotonic,
        concurrency=concurrency,
        queries_per_second=queries_per_second,
        sleep=sleep,
        give_up_after=give_up_after,
    )


def test_payments_due_for_a_check_are_checked_and_updated(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
) -> None:
    # Given an old payment the gateway expired, an old one still NEW, and a fresh one
    new_payment("old-expired")
    new_payment("old-new")
    gateway.set("C-old-expired-P", "ABANDONED", partner_reference="old-expired")
    gateway.set("C-old-new-P", "NEW", partner_reference="old-new")
    clock.advance(200)
    new_payment("fresh")
    # When the poller runs
    report = make_poller(repo, reconciler, publisher, clock).run(deadline=time.monotonic() + 60)
    # Then only the old ones were queried; the expired one is ABANDONED and its event is out
    assert sorted(gateway.queries) == ["C-old-expired-P", "C-old-new-P"]
    assert report.checked == 2 and report.outcomes == {"applied": 1, "duplicate": 1}
    assert repo.get("old-expired").status == "ABANDONED"  # type: ignore[union-attr]
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Abandoned"]


def test_a_run_checks_every_due_payment_page_by_page_and_each_check_moves_it_on_the_schedule(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
) -> None:
    # Given three open payments past their first check, and pages of two
    for name in ("a", "b", "c"):
        new_payment(name)
        gateway.set(f"C-{name}-P", "NEW", partner_reference=name)
        clock.advance(1)
    clock.advance(200)  # 201-203 s old: due at 60 s (and not yet at 240 s)
    poller = make_poller(repo, reconciler, publisher, clock, batch_size=2)
    # When it runs
    report = poller.run(deadline=time.monotonic() + 60)
    # Then every due one was checked, the most overdue first (work is bounded by time, not a count)
    assert gateway.queries == ["C-a-P", "C-b-P", "C-c-P"] and report.checked == 3
    # And each is next due 4 minutes after it was created (every minute at first): a run now checks nothing
    assert _raw(aws, "a")["nextCheckAt"] == {"S": "2026-01-15T10:34:00.000Z"}
    assert poller.run(deadline=time.monotonic() + 60).checked == 0
    clock.advance(37.5)  # a is past 4 minutes old, b and c not yet
    assert poller.run(deadline=time.monotonic() + 60).checked == 1 and gateway.queries[3:] == ["C-a-P"]


def test_a_run_reads_the_index_again_only_while_its_pages_come_back_full(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    due_reads: list[tuple[int, int]],
) -> None:
    # Given five due payments, checked four at a time
    for index in range(5):
        new_payment(f"p-{index}")
        gateway.set(f"C-p-{index}-P", "NEW", partner_reference=f"p-{index}")
    clock.advance(61)
    # When a run reads pages of 25: one read returns all five, fewer than asked for
    assert make_poller(repo, reconciler, publisher, clock, concurrency=4).run(deadline=1e9).checked == 5
    # Then it read the index once, not again as each check finished
    assert [limit for limit, _ in due_reads] == [25]
    # And with pages of two, it reads on while the pages come back full, then stops
    due_reads.clear()
    clock.advance(240)  # all five due again (their next check was 5 minutes after creation)
    report = make_poller(repo, reconciler, publisher, clock, batch_size=2, concurrency=1).run(deadline=1e9)
    assert report.checked == 5 and sorted(gateway.queries[5:]) == sorted(gateway.queries[:5])
    # (the second read starts at the first's last nextCheckAt, which all five share: it asks for the two read
    # again plus a page and finds the three left, fewer than asked for, and the run reads no more; or, with a
    # check still in flight (its payment not yet moved on), four, and one more read finds the rest)
    limits = [limit for limit, _ in due_reads]
    assert limits[:2] == [2, 4] and len(limits) <= 3


def test_checks_run_concurrently_within_the_query_budget(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    # Given twelve due payments, four threads and a budget of 10 queries a second on a fake monotonic clock
    for index in range(12):
        new_payment(f"p-{index}")
        gateway.set(f"C-p-{index}-P", "NEW", partner_reference=f"p-{index}")
    clock.advance(61)
    waits: list[float] = []
    lock = threading.Lock()
    in_flight, most_in_flight = [0], [0]
    real_get = gateway.get_payment

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    def slow_get(reference: str, *, deadline: float | None = None) -> Any:
        with lock:
            in_flight[0] += 1
            most_in_flight[0] = max(most_in_flight[0], in_flight[0])
        time.sleep(0.02)  # a query in flight, long enough for the other threads to start theirs
        try:
            return real_get(reference, deadline=deadline)
        finally:
            with lock:
                in_flight[0] -= 1

    gateway.get_payment = slow_get  # type: ignore[method-assign]

    poller = make_poller(
        repo,
        reconciler,
        publisher,
        clock,
        monotonic=lambda: 0.0,
        concurrency=4,
        queries_per_second=10,
        sleep=sleep,
    )
    # When it runs
    report = poller.run(deadline=100.0)
    # Then all were checked, and the queries were given slots 0.1 s apart: 1.1 s for twelve, never a burst
    assert report.checked == 12 and len(gateway.queries) == 12
    assert sorted(round(w, 6) for w in waits) == [round(0.1 * n, 6) for n in range(1, 12)]
    # And the checks overlapped, never more than the four threads at once
    assert 1 < most_in_flight[0] <= 4


def test_a_run_stops_before_the_deadline(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    for name in ("a", "b", "c"):
        new_payment(name)
        gateway.set(f"C-{name}-P", "NEW", partner_reference=name)
    clock.advance(200)
    now = [0.0]
    real_get = gateway.get_payment

    def slow_get(reference: str, *, deadline: float | None = None) -> Any:
        now[0] += 50.0  # each query takes 50 s: the third would start 3 s before the deadline
        return real_get(reference, deadline=deadline)

    gateway.get_payment = slow_get  # type: ignore[method-assign]
    poller = make_poller(repo, reconciler, publisher, clock, monotonic=lambda: now[0])
    report = poller.run(deadline=103.0)
    assert report.checked == 2 and report.skipped_for_time == 1


def test_a_run_uses_its_time_to_the_deadline_less_what_its_checks_take(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given 80 due payments whose status queries take 0.2 s each (a fake monotonic clock), When a run has
    10 s, Then it starts checks until about 0.5 s before its deadline (twice its longest check, at least
    0.5 s): 47 or more, where a fixed 4 s reserve stopped it at 30 and left the rest of its time unused."""
    for index in range(80):
        new_payment(f"p-{index}")
        gateway.set(f"C-p-{index}-P", "NEW", partner_reference=f"p-{index}")
    clock.advance(61)
    now = [0.0]
    real_get = gateway.get_payment

    def timed_get(reference: str, *, deadline: float | None = None) -> Any:
        now[0] += 0.2
        return real_get(reference, deadline=deadline)

    gateway.get_payment = timed_get  # type: ignore[method-assign]
    poller = make_poller(repo, reconciler, publisher, clock, monotonic=lambda: now[0], queries_per_second=20)
    report = poller.run(deadline=10.0)
    assert 47 <= report.checked <= 49 and report.skipped_for_time >= 1
    assert now[0] <= 10.0  # and no check ran past the deadline


def test_payments_a_run_confirms_paid_do_not_end_it_early(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given 60 due payments paid at the gateway (their webhooks lost), When one run reads them 25 at a time,
    Then it confirms all 60: the ones it confirmed stay due on the watch list (paid, not yet fulfilled, their
    keys unchanged) and the next page reads past them, where the run stopped after 26."""
    for index in range(60):
        new_payment(f"p-{index}")
        gateway.set(f"C-p-{index}-P", "SUCCESSFUL", partner_reference=f"p-{index}")
    clock.advance(61)
    report = make_poller(repo, reconciler, publisher, clock, batch_size=25).run(
        deadline=time.monotonic() + 60
    )
    assert report.checked == 60 and report.outcomes["applied"] == 60


def test_a_page_of_watched_paid_payments_does_not_end_the_run(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    """Given 30 paid payments on the watch list, due before 5 open ones (their webhooks came, their
    fulfilments not yet), When a run reads 25 at a time, Then it moves the paid ones on without a query and
    still checks the 5 open ones, where a first page of paid payments only ended the run with none checked."""
    for index in range(30):
        new_payment(f"paid-{index}")
        repo.apply_status(f"paid-{index}", "SUCCESSFUL", source="webhook")
    clock.advance(10)
    for index in range(5):
        new_payment(f"open-{index}")
        gateway.set(f"C-open-{index}-P", "NEW", partner_reference=f"open-{index}")
    clock.advance(120)
    report = make_poller(repo, reconciler, publisher, clock, batch_size=25).run(
        deadline=time.monotonic() + 60
    )
    assert report.checked == 5 and sorted(gateway.queries) == sorted(f"C-open-{i}-P" for i in range(5))


def test_a_run_reads_each_due_payment_once_however_many_paid_ones_wait_for_their_fulfilment(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    due_reads: list[tuple[int, int]],
) -> None:
    """Given 60 paid payments past PaidNotFulfilled's hours (due before anything else, every run) and 5 open
    ones, When a run reads pages of 5, Then it counts the 60, checks the 5 and reads 65 payments and a page's
    overlap, where reading from the top of the index each time read 515 (the square of what was due: with a
    few thousand unfulfilled payments a run's minute went on reading them, and no open payment was checked)."""
    for index in range(60):
        new_payment(f"paid-{index}")
        repo.apply_status(f"paid-{index}", "SUCCESSFUL", source="webhook")
        clock.advance(1)  # each its own nextCheckAt (payments due at one instant are read together)
    poller = make_poller(repo, reconciler, publisher, clock, batch_size=5)
    clock.advance(60)
    assert poller.run(deadline=time.monotonic() + 60).checked == 0  # moved on to 2 hours after they were paid
    clock.advance(2 * 3600)
    for index in range(5):
        new_payment(f"open-{index}")
        gateway.set(f"C-open-{index}-P", "NEW", partner_reference=f"open-{index}")
        clock.advance(1)
    clock.advance(120)
    due_reads.clear()
    report = poller.run(deadline=time.monotonic() + 60)
    assert len(report.paid_not_fulfilled) == 60
    assert report.checked == 5 and sorted(gateway.queries) == sorted(f"C-open-{i}-P" for i in range(5))
    found = [count for _, count in due_reads]
    assert sum(found) <= 65 + len(found)  # each read repeats at most the one it started from


def test_a_webhook_between_a_page_and_its_reads_does_not_end_the_run(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given 10 due payments read 5 at a time, When a webhook moves the page's last one on (its nextCheckAt a
    minute ahead) after the index was queried and before its item is read, Then the run still checks all 10: the
    next page starts where the index had it, where starting from the item's new value skipped the other five
    (found in review)."""
    for index in range(10):
        new_payment(f"p-{index}")
        gateway.set(f"C-p-{index}-P", "NEW", partner_reference=f"p-{index}")
        clock.advance(1)
    clock.advance(120)
    query = aws.dynamodb.query
    raced: list[bool] = []

    def racing(**kwargs: Any) -> Any:
        found = query(**kwargs)
        if kwargs.get("IndexName") == "watchList" and not raced:
            raced.append(True)
            aws.dynamodb.update_item(
                TableName="PaymentsTable",
                Key={"partnerReference": {"S": "p-4"}},
                UpdateExpression="SET nextCheckAt = :next",
                ExpressionAttributeValues={":next": {"S": "2026-01-15T12:00:00.000Z"}},
            )
        return found

    monkeypatch.setattr(aws.dynamodb, "query", racing)
    report = make_poller(repo, reconciler, publisher, clock, batch_size=5).run(deadline=time.monotonic() + 60)
    assert raced and report.checked == 10


def test_a_payment_still_open_at_the_give_up_age_is_reported_and_no_longer_checked(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a payment the gateway still reports NEW two days after it was created
    new_payment("stuck")
    gateway.set("C-stuck-P", "NEW", partner_reference="stuck")
    clock.advance(2 * 86400 + 1)
    poller = make_poller(repo, reconciler, publisher, clock, give_up_after=timedelta(hours=48))
    # When the poller checks it
    report = poller.run(deadline=time.monotonic() + 60)
    # Then it asked once more, gave up, told operators (log + metric), and the payment is off the schedule
    assert gateway.queries == ["C-stuck-P"] and report.gave_up == 1 and report.outcomes == {"gave_up": 1}
    assert _raw(aws, "stuck")["openMarker"]["S"].startswith("GAVEUP#")
    assert [r.partner_reference for r in repo.gave_up_payments(limit=10)] == ["stuck"]
    assert any(r.levelname == "ERROR" and "give-up age" in r.getMessage() for r in caplog.records)
    capsys.readouterr()
    metrics.flush_metrics()
    assert '"ReconcileGaveUp":[1.0]' in capsys.readouterr().out
    clock.advance(7200)
    assert poller.run(deadline=time.monotonic() + 60).checked == 0 and gateway.queries == ["C-stuck-P"]


def test_events_left_in_the_outbox_are_republished_after_a_minute(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    new_payment: Callable[..., Any],
    clock: Clock,
    aws: Any,
) -> None:
    # Given a transition whose publisher died before publishing
    new_payment()
    repo.apply_status("order-1001", "FAILED", source="webhook")
    poller = make_poller(repo, reconciler, publisher, clock)
    # When the poller runs at once, and again after a minute
    early = poller.run(deadline=time.monotonic() + 60)
    clock.advance(61)
    late = poller.run(deadline=time.monotonic() + 60)
    # Then only the later run re-published it, exactly once
    assert early.republished == 0 and late.republished == 1
    assert [e["detail"]["eventId"] for e in aws.published_events()] == ["order-1001:FAILED"]
    clock.advance(61)
    assert poller.run(deadline=time.monotonic() + 60).republished == 0
