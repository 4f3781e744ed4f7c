"""Status poller: bounded runs over open payments, round-robin, plus the outbox sweep."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pay1st_partner.events import EventPublisher
from pay1st_partner.poller import StatusPoller
from pay1st_partner.reconcile import Reconciler
from pay1st_partner.repository import PaymentRepository

from tests.partner.helpers import Clock, FakeGateway


def make_poller(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    clock: Clock,
    *,
    batch_size: int = 25,
    monotonic: Callable[[], float] = time.monotonic,
) -> StatusPoller:
    return StatusPoller(
        payments=repo,
        reconciler=reconciler,
        publisher=publisher,
        min_age=timedelta(seconds=120),
        batch_size=batch_size,
        clock=clock,
        monotonic=monotonic,
    )


def test_open_payments_older_than_the_threshold_are_checked_and_updated(
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


def test_batches_are_bounded_and_work_round_robin(
    repo: PaymentRepository,
    reconciler: Reconciler,
    publisher: EventPublisher,
    gateway: FakeGateway,
    new_payment: Callable[..., Any],
    clock: Clock,
) -> None:
    # Given three old open payments and a batch size of two
    for name in ("a", "b", "c"):
        new_payment(name)
        gateway.set(f"C-{name}-P", "NEW", partner_reference=name)
        clock.advance(1)
    clock.advance(200)
    poller = make_poller(repo, reconciler, publisher, clock, batch_size=2)
    # When it runs twice, 200 s apart
    poller.run(deadline=time.monotonic() + 60)
    first = list(gateway.queries)
    clock.advance(200)
    poller.run(deadline=time.monotonic() + 60)
    # Then the second run starts with the payment the first could not reach
    assert first == ["C-a-P", "C-b-P"]
    assert gateway.queries[2:] == ["C-c-P", "C-a-P"]


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
    ticks = iter([0.0, 100.0])  # the second check would start 3 s before the deadline
    poller = make_poller(repo, reconciler, publisher, clock, monotonic=lambda: next(ticks))
    report = poller.run(deadline=103.0)
    assert report.checked == 1 and report.skipped_for_time == 2


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
