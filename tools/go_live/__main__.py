"""``python -m go_live [--stack NAME]``: Pay1st's go-live checklist against a stack, step by step.

With ``--stack`` (or ``--env``: samconfig.toml's environment, its stack and region) it checks a deployed stack:
its outputs and parameters (CloudFormation), its credentials secret (Secrets Manager) and its webhook records
(DynamoDB), with the caller's AWS credentials (``--region``/``--profile``, see ``aws_access``); a person
pays the test payment through the printed checkout link. Without, it starts a local stack (moto and the
Pay1st sandbox, as ``make demo`` does), where the sandbox pays. Exit 0 only when every step passed, 1 when
one did not, 2 when the stack could not be checked at all.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from aws_access import AccessError, add_arguments, explain, resolve
from botocore.exceptions import BotoCoreError

from go_live.context import Check, Options
from go_live.open_questions import confirmations, confirmations_text, with_confirmations
from go_live.report import Report, StepResult, header_lines, step_line
from go_live.runner import run
from go_live.target import Target, TargetError, deployed_target, parameters_of, stack_description


def _countries(text: str) -> tuple[str, ...]:
    countries = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    if not countries or any(len(country) != 2 or not country.isalpha() for country in countries):
        raise argparse.ArgumentTypeError(f"expected ISO-3166 alpha-2 codes like NG,ZA, got {text!r}")
    return countries


def _key_values(pairs: Sequence[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected Key=Value, got {pair!r}")
        values[key] = value
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m go_live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="a deployed stack's name (default: a local stack started here)")
    add_arguments(parser)
    parser.add_argument(
        "--countries", type=_countries, default=("NG", "ZA"), help="payment methods for (NG,ZA)"
    )
    parser.add_argument("--compare-with", metavar="STACK", help="for a production stack: the sandbox stack")
    parser.add_argument("--webhook-timeout", type=float, default=120.0, help="seconds to wait for it (120)")
    parser.add_argument("--status-timeout", type=float, default=30.0, help="seconds for SUCCESSFUL (30)")
    parser.add_argument("--fulfilment-timeout", type=float, default=60.0, help="seconds for DELIVERED (60)")
    parser.add_argument("--currency", help="test payment currency (default: per first country)")
    parser.add_argument("--amount", help="test payment amount (default: a small one per currency)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (progress on stderr)")
    parser.add_argument(
        "--refund",
        action="store_true",
        help="staging only: refund the test payment and say which reference Pay1st accepted (§15)",
    )
    parser.add_argument("--debug", action="store_true", help="log tracebacks of steps that raise")
    local = parser.add_argument_group("local stack only")
    local.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="Key=Value", help="template parameters"
    )
    local.add_argument(
        "--webhook-scheme", choices=["signing-key", "basic-auth"], help="how the sandbox signs webhooks"
    )
    return parser.parse_args(argv)


def _options(args: argparse.Namespace) -> Options:
    return Options(
        countries=args.countries,
        webhook_timeout=args.webhook_timeout,
        status_timeout=args.status_timeout,
        fulfilment_timeout=args.fulfilment_timeout,
        currency=args.currency,
        amount=args.amount,
        compare_with=args.compare_with,
        refund=args.refund,
    )


def check_target(target: Target, options: Options, *, as_json: bool, out: IO[str], err: IO[str]) -> Report:
    """Run every step against ``target``, telling each as it ends (text) or all at the end (JSON)."""
    progress = err if as_json else out
    if not as_json:
        out.write(header_lines(target.describe()))
        out.flush()

    def on_step(result: StepResult) -> None:
        if not as_json:
            out.write(step_line(result))
            out.flush()

    report = run(Check(target, options, progress=progress), on_step=on_step)
    # It ends with what only Pay1st can confirm (§17): measured here, or to ask the Implementation Manager.
    asked = confirmations(report, target.parameters)
    if as_json:
        out.write(json.dumps(with_confirmations(report.to_json(), asked), indent=2, default=str) + "\n")
    else:
        out.write(report.summary() + confirmations_text(asked))
    out.flush()
    return report


def _deployed(args: argparse.Namespace, options: Options, out: IO[str], err: IO[str]) -> Report:
    access = resolve(args.stack, env=args.env, region=args.region, profile=args.profile)
    assert access.stack is not None
    session = access.session
    target = deployed_target(access.stack, session)
    if args.compare_with:
        other = stack_description(session.client("cloudformation"), args.compare_with)
        options.compare_parameters = parameters_of(other)
    return check_target(target, options, as_json=args.json, out=out, err=err)


def _local(args: argparse.Namespace, options: Options, out: IO[str], err: IO[str]) -> Report:
    from go_live.local_target import local_target

    options.poll_interval = 0.5  # everything is on loopback: look often
    log_path = Path(tempfile.gettempdir()) / f"pay1st-go-live-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with open(log_path, "w", encoding="utf-8") as function_log:
        err.write(f"starting a local stack (moto + Pay1st sandbox); function logs: {log_path}\n")
        overrides = _key_values(args.parameter_overrides)
        with local_target(
            function_log, parameter_overrides=overrides, webhook_scheme=args.webhook_scheme
        ) as target:
            return check_target(target, options, as_json=args.json, out=out, err=err)


def main(argv: Sequence[str] | None = None, *, out: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=err)
    logging.getLogger("go_live").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the local servers' request lines
    options = _options(args)
    try:
        deployed = args.stack or args.env
        report = _deployed(args, options, out, err) if deployed else _local(args, options, out, err)
    except (TargetError, AccessError) as exc:
        err.write(f"go-live check: {exc}\n")
        return 2
    except BotoCoreError as exc:  # the caller's AWS set-up, met after the stack was found: one line too
        err.write(f"go-live check: {explain(exc) or exc}\n")
        return 2
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
