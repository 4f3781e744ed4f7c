"""``python -m sim [--payments N] [--seed S]``: run the simulation, print one line (and, on a violation, the
seed, the trace of the payments involved and the command that replays it)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from sim.mix import default_mix
from sim.mutations import MUTATIONS
from sim.report import summarise
from sim.run import cohorts_in_order

PROGRESS_EVERY = 50  # cohorts between the progress lines on stderr (the summary is stdout's last line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--payments", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cohort", type=int, default=1000, help="payments per independent world")
    parser.add_argument("--only-cohort", type=int, default=None, help="replay one cohort of the run")
    parser.add_argument("--mutation", default=None, help="reintroduce a known bug (see sim/mutations.py)")
    parser.add_argument(
        "--without-issue21",
        action="store_true",
        help="without the two choices that reached issue 21's defects (the mix before it was merged)",
    )
    parser.add_argument("--trace", action="store_true", help="print the whole trace")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="cohorts run at once, one process each (default: one per core; the results are the same)",
    )
    parser.add_argument("--no-shrink", action="store_true")
    args = parser.parse_args(argv)
    if (
        args.mutation is not None and args.mutation not in MUTATIONS
    ):  # before any worker starts (it would hang)
        parser.error(f"unknown mutation {args.mutation!r}; known: {', '.join(sorted(MUTATIONS))}")
    mix = default_mix(issue21=not args.without_issue21)
    started = time.perf_counter()
    results = []
    cohorts = (args.payments + args.cohort - 1) // args.cohort
    indexes = range(cohorts) if args.only_cohort is None else [args.only_cohort]
    tasks = [
        (
            args.seed,
            index,
            args.cohort
            if args.only_cohort is not None
            else min(args.cohort, args.payments - index * args.cohort),
            mix,
            args.mutation,
            args.trace,
        )
        for index in indexes
    ]
    done = violations = 0
    for result in cohorts_in_order(tasks, args.jobs):
        results.append(result)
        if args.trace:
            sys.stdout.write("\n".join(result.trace) + "\n")
        result.trace = [] if not result.violations else result.trace
        done, violations = done + result.payments, violations + len(result.violations)
        if len(results) % PROGRESS_EVERY == 0 and len(results) < len(tasks):  # a long run shows it is alive
            seconds = time.perf_counter() - started
            sys.stderr.write(f"... {done} payments, {violations} invariant violations, {seconds:.0f} s\n")
    elapsed = time.perf_counter() - started
    return summarise(results, args, mix, elapsed, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
