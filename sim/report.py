"""What a run prints: on violations, the seed, the (shrunk) trace of the payments involved and the replay
command; always, last, the one line ``simulated N payments (seed S): V invariant violations``."""

from __future__ import annotations

import argparse
from typing import IO, Any

from sim.mix import Mix


def summarise(results: list[Any], args: argparse.Namespace, mix: Mix, elapsed: float, out: IO[str]) -> int:
    violations = [v for r in results for v in r.violations]
    payments = sum(r.payments for r in results)
    if violations:
        out.write(f"seed {args.seed}: {len(violations)} invariant violations\n")
        shown = 0
        for result in results:
            if not result.violations:
                continue
            kinds = sorted({v.invariant for v in result.violations})
            out.write(f"\ncohort {result.index} ({result.payments} payments): {', '.join(kinds)}\n")
            for violation in result.violations[:5]:
                known = f"  [{violation.known}]" if violation.known else ""
                out.write(f"  {violation.invariant} {violation.payment}: {violation.detail}{known}\n")
            if shown < 2 and not args.no_shrink:
                shown += 1
                shrunk = shrink(args, result, mix)
                _print_trace(shrunk, out)
                mutation = f" --mutation {args.mutation}" if args.mutation else ""
                ci = " --without-issue21" if args.without_issue21 else ""
                out.write(
                    f"replay: python -m sim --seed {args.seed} --only-cohort {shrunk.index} "
                    f"--cohort {shrunk.payments}{mutation}{ci} --trace\n"
                )
    rate = payments / elapsed if elapsed > 0 else 0.0
    out.write(f"({elapsed:.1f} s, {rate:.0f} payments/s)\n")
    out.write(f"simulated {payments} payments (seed {args.seed}): {len(violations)} invariant violations\n")
    return 1 if violations else 0


def shrink(args: argparse.Namespace, result: Any, mix: Mix) -> Any:
    """The smallest cohort (same seed, same cohort number, fewer payments) that still breaks the first
    invariant this one broke: sizes 1, 2, 4, ... up to the cohort's own."""
    from sim.run import run_cohort

    target = result.violations[0].invariant.split(":")[0]
    size = 1
    while size < result.payments:
        attempt = run_cohort(args.seed, result.index, size, mix, mutation=args.mutation)
        if any(v.invariant.split(":")[0] == target for v in attempt.violations):
            return attempt
        size *= 2
    return result


def _print_trace(result: Any, out: IO[str]) -> None:
    involved = {v.payment for v in result.violations if v.payment}
    lines = sorted({i for p in involved for i in result.by_payment.get(p, [])})
    out.write(
        f"trace of {', '.join(sorted(involved))} (cohort {result.index}, {result.payments} payments):\n"
    )
    for i in lines:
        out.write(f"  {result.trace[i]}\n")
