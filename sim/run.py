"""One simulation: payments arrive in cohorts, faults run, then stop, the schedule runs out (quiescence) and
the invariants are checked.

A run of N payments is a sequence of cohorts of at most ``cohort`` payments, each a complete world of its own
(fresh store, Pay1st and clock) seeded from the run's seed and the cohort's number: a cohort replays alone
(``--cohort``), and a long run keeps the memory and the index scans of a cohort's size.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sim.actors import Actors
from sim.invariants import Checker, Violation
from sim.mix import Mix
from sim.world import World

POLL_EVERY = 60.0
QUIESCENCE = 6 * 3600.0  # after faults stop: longer than any journey, refund or webhook retry
REFUND_ALARM = 259200.0


@dataclass
class CohortResult:
    index: int
    payments: int
    violations: list[Violation]
    trace: list[str]
    by_payment: dict[str, list[int]]
    digest: str
    stats: dict[str, Any] = field(default_factory=dict)


def cohort_seed(seed: int, index: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{index}".encode()).digest()[:8], "big")


def run_cohort(
    seed: int,
    index: int,
    payments: int,
    mix: Mix,
    *,
    store: str = "memory",
    dynamodb_client: Any = None,
    tables: dict[str, str] | None = None,
    mutation: str | None = None,
    keep_trace: bool = True,
    final_state: bool = False,
) -> CohortResult:
    from sim import mutations

    world = World(cohort_seed(seed, index), store=store, dynamodb_client=dynamodb_client, tables=tables)
    world.start()
    undo = mutations.apply(mutation, world) if mutation else None
    try:
        result = _run(world, index, payments, mix, keep_trace)
        if final_state:
            result.stats["final_state"] = final_states(world, result)
        return result
    finally:
        if undo is not None:
            undo()
        world.stop()


def _run(world: World, index: int, payments: int, mix: Mix, keep_trace: bool) -> CohortResult:
    rng = world.rng
    sched = world.sched
    checker = Checker(world)
    actors = Actors(world, mix)
    world.write_listeners.append(checker.on_write)
    world.event_listeners.insert(0, checker.on_event)
    world.gateway.on_refund_created = actors.refund_progress
    sched.crash_rate = mix.crash
    world.faults.dynamodb_throttle = mix.dynamodb_throttle
    world.faults.events_partial = mix.events_partial
    world.faults.sqs_error = mix.sqs_error
    world.gateway_faults.rates.update(mix.gateway)
    world.pay1st_signing_key = world.secret.signing_key
    arrived = {"n": 0}

    def arrive() -> None:
        number = arrived["n"]
        arrived["n"] += 1
        actors.arrive(number)
        if rng.random() < mix.forged_per_payment:
            sched.at(rng.uniform(1, 1800), actors.forge)
        if arrived["n"] < payments:
            sched.at(rng.expovariate(mix.arrivals_per_second), arrive)

    def poll() -> None:
        handler = world.functions["status_poller"].lambda_handler
        from sim.world import LambdaContext

        world.run("poller", None, lambda: handler({"source": "aws.events"}, LambdaContext(world.clock, 55.0)))
        sched.at(POLL_EVERY, poll)

    def hourly() -> None:
        if sched.faults_on:
            if rng.random() < mix.rotations_per_hour:
                _rotate(world)
            if rng.random() < mix.skew_changes_per_hour:
                world.skew = rng.uniform(-mix.max_skew, mix.max_skew)
            if rng.random() < mix.operator_per_hour:
                _operate(world, actors)
        sched.at(rng.uniform(600, 3600), hourly)

    sched.at(0.0, arrive)
    sched.at(rng.uniform(0, POLL_EVERY), poll)
    sched.at(rng.uniform(0, 600), hourly)
    sched.run_until(lambda: arrived["n"] >= payments)
    sched.run_until(lambda: False, horizon=world.clock.now + 1800.0)
    # Faults stop; what is in flight finishes; the schedule runs out.
    sched.faults_on = False
    world.skew = 0.0
    sched.run_until(lambda: False, horizon=world.clock.now + QUIESCENCE)
    actors.redrive()
    sched.run_until(lambda: False, horizon=world.clock.now + 3600.0)
    world.clock.now += REFUND_ALARM  # refunds still open by now are reported open too long

    def open_too_long() -> set[tuple[str, str]]:
        from datetime import timedelta

        from pay1st_partner import runtime

        cutoff = world.clock.datetime() - timedelta(seconds=REFUND_ALARM)
        stale = runtime.refunds().open_too_long(older_than=cutoff, limit=100000)
        return {(r.partner_reference, f.refund_reference) for r in stale for f in r.refunds if f.is_open}

    checker.at_quiescence(actors.partner, open_too_long)
    digest = hashlib.sha256("\n".join(world.trace_lines).encode()).hexdigest()
    stats = {
        "crashes": sched.crashes,
        "invocations": sched.invocations,
        "gateway": dict(world.gateway_faults.counts),
        "aws": dict(world.faults.counts),
        "gateway_requests": world.gateway.requests,
        "webhooks_given_up": actors.webhooks_given_up,
        "dead_lettered": world.metrics.get("FulfilmentDeadLettered", 0),
        "metrics": dict(world.metrics),
        "virtual_seconds": world.clock.now,
    }
    trace = world.trace_lines if keep_trace else []
    return CohortResult(
        index, payments, checker.violations, trace, world.by_payment if keep_trace else {}, digest, stats
    )


def final_states(world: World, result: CohortResult) -> dict[str, Any]:
    """What the store holds of each payment at the end, as the domain reads it (for comparing two stores)."""
    states: dict[str, Any] = {}
    for reference in sorted(result.by_payment):
        record = world.raw_store.get(reference)
        if record is None:
            continue
        states[reference] = {
            "status": record.status,
            "reference": record.reference,
            "attempt": record.attempt_reference,
            "doublePaid": record.double_paid,
            "reversals": sorted(record.reversals),
            "refunds": sorted((r.refund_reference, r.status, str(r.amount)) for r in record.refunds),
            # As numbers: DynamoDB normalises 1.75 - 1.75 to 0.0 where the memory store keeps 0.00.
            "refunded": record.refunded_amount,
            "reserved": record.refund_reserved,
            "fulfilled": bool(record.fulfilment and record.fulfilment.get("deliveredAt")),
            "outbox": list(record.pending_event_ids),
        }
    return states


def _rotate(world: World) -> None:
    """A rotation of the Signing Key (webhooks and requests) or of the API key and secret, as operators do it."""
    rng = world.rng
    secret = world.secret
    secret.version += 1
    if rng.random() < 0.5:
        old = secret.signing_key
        secret.signing_key = f"sk-{secret.version}"
        until = world.clock.time() + 3600.0
        secret.previous_signing = [(old, until)]
        world.gateway.rotate_signing_key(secret.signing_key)  # Pay1st takes both while the secret propagates
        world.trace(None, "rotation: Signing Key")
        world.sched.at(rng.uniform(0, 300), lambda: _see(world))
        world.sched.at(rng.uniform(0, 600), lambda: setattr(world, "pay1st_signing_key", secret.signing_key))
        world.sched.at(3600.0, world.gateway.retire_old_keys)
    else:
        old_pair = (secret.api_key, secret.api_secret)
        secret.api_key, secret.api_secret = f"ak-{secret.version}", f"as-{secret.version}"
        world.gateway.credentials.add((secret.api_key, secret.api_secret))
        world.trace(None, "rotation: API key and secret")
        world.sched.at(rng.uniform(0, 300), lambda: _see(world))
        world.sched.at(3600.0, lambda: world.gateway.credentials.discard(old_pair))


def _see(world: World) -> None:
    """The functions' cached secret (Powertools, 300 s) catches up with the secret."""
    seen, secret = world.seen_secret, world.secret
    seen.api_key, seen.api_secret, seen.signing_key = secret.api_key, secret.api_secret, secret.signing_key
    seen.previous_signing = list(secret.previous_signing)
    seen.version = secret.version


def _operate(world: World, actors: Actors) -> None:
    """An operator's audited command (tools/pay1st_ops) on a payment, or a redrive of the dead letters."""
    import types

    from pay1st_ops import actions
    from pay1st_partner import runtime

    rng = world.rng
    if not actors.partner:
        return
    references = sorted(actors.partner)
    reference = references[rng.randrange(len(references))]
    services = types.SimpleNamespace(
        payments=runtime.payments(),
        reconciler=runtime.reconciler(),
        publisher=runtime.publisher(),
        store=world.store,
    )
    command = world.choose({"reconcile": 3, "republish": 2, "redrive": 1})
    world.trace(reference, f"operator {command}")
    if command == "redrive":
        actors.redrive()
        return

    def body() -> None:
        try:
            if command == "reconcile":
                actions.reconcile(services, reference, "sim-operator")  # type: ignore[arg-type]
            else:
                known = actions.events_to_republish(services, reference, None)  # type: ignore[arg-type]
                actions.republish(services, reference, known, "sim-operator")  # type: ignore[arg-type]
        except actions.OpsError as exc:
            world.trace(reference, f"operator {command}: {str(exc)[:60]}")

    world.run(f"operator-{command}", reference, body)


def run(seed: int, payments: int, mix: Mix, *, cohort: int = 1000, **kwargs: Any) -> list[CohortResult]:
    results = []
    for index in range((payments + cohort - 1) // cohort):
        size = min(cohort, payments - index * cohort)
        results.append(run_cohort(seed, index, size, mix, **kwargs))
    return results


def cohorts_in_order(tasks: list[tuple[Any, ...]], jobs: int) -> Iterator[CohortResult]:
    """The cohorts' results in cohort order. Each cohort is a world of its own (its seed is the run's and its
    number), so running them in separate processes changes nothing but the time: one worker per job, each
    taking the next cohort as it finishes one (spawned, not forked: a fork copies whatever threads and patches
    the parent holds)."""
    if jobs <= 1 or len(tasks) <= 1:
        yield from map(cohort_task, tasks)
        return
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(tasks))) as pool:
        yield from pool.imap(cohort_task, tasks)


def cohort_task(task: tuple[Any, ...]) -> CohortResult:
    """One cohort of ``python -m sim`` (seed, index, size, mix, mutation, whether the trace is printed)."""
    seed, index, size, mix, mutation, trace = task
    result = run_cohort(seed, index, size, mix, mutation=mutation, keep_trace=True)
    # Only a failing cohort's trace is printed (or any, with --trace): the others' are not sent back.
    if not (trace or result.violations):
        result.trace, result.by_payment = [], {}
    return result
