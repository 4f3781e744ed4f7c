"""``python -m pay1st_ops (--stack NAME | --env NAME | --local [URL]) COMMAND``: find a payment, read its story,
fix it.

A deployed stack is reached with ``--region``/``--profile``, defaulting to samconfig.toml's environment
(``--env``, or the one whose stack_name is ``--stack``): see ``aws_access``.

Commands: ``find``, ``show REF``, ``reconcile REF``, ``replay-webhook EVENT_ID``, ``republish REF
[--event-id ID]``, ``redrive-fulfilments``, ``report``. The ones that change something ask for ``--yes``
(or a typed "yes" at a terminal) and leave an audit record on the payment: who (your AWS identity), what,
when. Exit 0 when done, 1 when the command could not do it, 2 when the stack cannot be used at all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import IO, Any

if __name__ == "__main__":
    # The command line's own process only (never at import: a test process imports ``main`` and keeps its
    # environment). Before any layer module is imported: no metrics flushed (Powertools would print them to
    # stdout), and the domain's JSON logs at WARNING on stderr (``wiring.quiet_logs``), apart from the output.
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from aws_access import AccessError, add_arguments, explain, resolve
from botocore.exceptions import BotoCoreError

from pay1st_ops import actions, history, report
from pay1st_ops.target import OpsTarget, TargetError, deployed_target, local_target
from pay1st_ops.wiring import Services, quiet_logs

DEFAULT_LOCAL_URL = "http://127.0.0.1:3000"


def local_url_given(argv: Sequence[str]) -> list[str]:
    """``--local`` followed by anything but a URL gets the default URL: ``--local report`` is the local stack and
    the command ``report`` (argparse's optional value would take ``report`` as the URL)."""
    argv = list(argv)
    for index, word in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else ""
        if word == "--local" and not following.startswith(("http://", "https://")):
            argv[index] = f"--local={DEFAULT_LOCAL_URL}"
    return argv


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pay1st_ops", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="a deployed stack's name (your AWS credentials and region)")
    where.add_argument(
        "--local",
        nargs="?",
        const=DEFAULT_LOCAL_URL,
        metavar="URL",
        help=f"a running local stack ({DEFAULT_LOCAL_URL})",
    )
    add_arguments(parser.add_argument_group("a deployed stack"))
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--query-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="status queries per payment at most one per SECONDS (default: the stack's own"
        " STATUS_QUERY_MIN_INTERVAL_SECONDS, read from its functions' settings)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    find = commands.add_parser("find", help="payments by reference, or by status and age (indexes only)")
    find.add_argument("partner_reference", nargs="?", help="the partnerReference")
    find.add_argument("--reference", help="Pay1st's reference (a scan of PaymentsTable)")
    find.add_argument(
        "--status", type=str.upper, help="a status (a scan of PaymentsTable), e.g. PENDING, CREATE_UNKNOWN"
    )
    find.add_argument("--open", action="store_true", help="open payments, least recently checked first")
    find.add_argument("--older-than", type=float, metavar="HOURS", help="created (--open: checked) before")
    find.add_argument("--newer-than", type=float, metavar="HOURS", help="created within the last HOURS")
    find.add_argument("--limit", type=int, default=50)

    commands.add_parser("show", help="the payment's whole story in time order").add_argument(
        "partner_reference"
    )
    changing = {
        "reconcile": "ask Pay1st for the status now and apply it as the poller would",
        "replay-webhook": "run a stored webhook through the intake again",
        "republish": "publish the payment's events again with their original ids",
        "redrive-fulfilments": "move the fulfilment dead-letter queue back to its queue",
    }
    sub = {name: commands.add_parser(name, help=text) for name, text in changing.items()}
    sub["reconcile"].add_argument("partner_reference")
    sub["replay-webhook"].add_argument("event_id", help="the webhook's eventId (from show)")
    sub["republish"].add_argument("partner_reference")
    sub["republish"].add_argument("--event-id", help="only this event (default: all of the payment's)")
    for parser_ in sub.values():
        parser_.add_argument("--yes", action="store_true", help="do it without asking")

    rep = commands.add_parser("report", help="what needs an operator (indexes and keys only)")
    rep.add_argument(
        "--days", type=float, default=7.0, help="counts by status over payments created in DAYS (7)"
    )
    rep.add_argument("--pending-hours", type=float, default=2.0, help="PENDING older than this (2)")
    rep.add_argument("--fulfilment-hours", type=float, default=2.0, help="paid, not fulfilled after (2)")
    args = parser.parse_args(local_url_given(sys.argv[1:] if argv is None else argv))
    if args.local and args.env:
        parser.error("--local and --env: choose one")
    return args


def target_of(args: argparse.Namespace) -> OpsTarget:
    if args.stack or args.env:
        access = resolve(args.stack, env=args.env, region=args.region, profile=args.profile)
        assert access.stack is not None
        return deployed_target(access.stack, access.session)
    return local_target(args.local or DEFAULT_LOCAL_URL)


class Cli:
    def __init__(self, args: argparse.Namespace, services: Services, out: IO[str], err: IO[str]) -> None:
        self.args, self.services, self.out, self.err = args, services, out, err
        self.confirm: Callable[[str], bool] = self._ask

    def emit(self, data: Any, lines: Sequence[str]) -> None:
        if self.args.json:
            self.out.write(json.dumps(data, indent=2, default=_plain) + "\n")
        else:
            self.out.write("".join(line + "\n" for line in lines))

    def _ask(self, what: str) -> bool:
        if self.args.yes:
            return True
        if not sys.stdin.isatty():
            raise actions.OpsError(f"{what}: add --yes to do it (no terminal to ask at)")
        self.err.write(f"{what} on {self.services.target.name}. Type yes to go on: ")
        self.err.flush()
        return sys.stdin.readline().strip() == "yes"

    def who(self) -> str:
        return self.services.target.caller()

    # ------------------------------------------------------------------------------------------- commands
    def find(self) -> int:
        a = self.args
        if not (a.partner_reference or a.reference or a.status or a.open):
            raise actions.OpsError("find what? a partnerReference, --reference, --status or --open")
        rows = report.find(
            self.services,
            partner_reference=a.partner_reference,
            reference=a.reference,
            status=a.status,
            open_only=a.open,
            older_than=timedelta(hours=a.older_than) if a.older_than is not None else None,
            newer_than=timedelta(hours=a.newer_than) if a.newer_than is not None else None,
            limit=a.limit,
        )
        self.emit(rows, _table(rows) if rows else ["no payment found"])
        by_reference = a.partner_reference or a.reference
        return 1 if by_reference and not rows else 0

    def show(self) -> int:
        ref = self.args.partner_reference
        item = actions.payment_item(self.services, ref)
        webhooks = actions.webhooks_of(self.services, ref)
        entries = history.story(item, webhooks)
        now = history.summary(item)
        head = [f"{k}: {v}" for k, v in now.items() if v not in (None, [], "")]
        self.emit(
            {"payment": now, "story": [e.as_dict() for e in entries], "webhooks": webhooks},
            [*head, "", *(f"{e.at}  {e.what:<10} {e.text}" for e in entries)],
        )
        return 0

    def reconcile(self) -> int:
        ref = self.args.partner_reference
        actions.payment_item(self.services, ref)
        if not self.confirm(f"query Pay1st for {ref} and apply its answer"):
            return 1
        done = actions.reconcile(self.services, ref, self.who())
        self.emit({**done.__dict__, "message": done.message}, [f"{ref}: {done.message}"])
        return 0

    def replay_webhook(self) -> int:
        event_id = self.args.event_id
        if not self.confirm(f"replay stored webhook {event_id} through the intake"):
            return 1
        done = actions.replay_webhook(self.services, event_id, self.who())
        line = f"webhook {event_id}: {done.previous_outcome} -> {done.outcome} (payment {done.partner_reference})"
        self.emit(done.__dict__, [line] + ([f"error: {done.error}"] if done.error else []))
        return 1 if done.error else 0

    def republish(self) -> int:
        ref = self.args.partner_reference
        chosen = actions.events_to_republish(self.services, ref, self.args.event_id)
        ids = ", ".join(k.event.event_id for k in chosen)
        if not self.confirm(f"publish again {ids}"):
            return 1
        sent = actions.republish(self.services, ref, chosen, self.who())
        self.emit({"published": sent}, [f"published {event_id}" for event_id in sent])
        return 0

    def redrive_fulfilments(self) -> int:
        depth = actions.dead_letter_depth(self.services)
        if depth == 0:
            self.emit({"moved": 0, "payments": []}, ["the fulfilment DLQ is empty: nothing to redrive"])
            return 0
        if not self.confirm(f"move about {depth} message(s) from the fulfilment DLQ back to its queue"):
            return 1
        done = actions.redrive_fulfilments(self.services, self.who())
        lines = [f"moved {done.moved} message(s) to the fulfilment queue: {', '.join(done.payments) or '-'}"]
        if done.failed:
            lines.append(f"{done.failed} could not be sent and stay in the DLQ")
        self.emit(done.__dict__, lines)
        return 1 if done.failed else 0

    def report(self) -> int:
        a = self.args
        data = report.report(
            self.services, days=a.days, pending_hours=a.pending_hours, fulfilment_hours=a.fulfilment_hours
        )
        lines = [
            f"report at {data['at']} (payments created since {data['window']['since']})",
            "counts by status:",
        ]
        lines += [f"  {status:<22} {n}" for status, n in data["countsByStatus"].items()] or ["  none"]
        for title, rows in (
            ("create outcome unknown (or stuck CREATING)", data["createOutcomeUnknown"]),
            (f"PENDING for over {a.pending_hours} h", data["pendingTooLong"]["payments"]),
            (
                f"SUCCESSFUL, fulfilment not delivered after {a.fulfilment_hours} h",
                data["paidNotFulfilled"]["payments"],
            ),
        ):
            lines += (
                [f"{title}: {len(rows)}", *("  " + line for line in _table(rows))]
                if rows
                else [f"{title}: 0"]
            )
        lines.append(f"fulfilment dead letters: {data['fulfilmentDeadLetters']}")
        rejected = data["webhooksRejectedLastDay"]
        lines.append(
            "webhooks rejected in the last day: "
            + (", ".join(f"{k} {v}" for k, v in rejected.items()) or "0")
        )
        lines += ["not covered (would need a scan):", *(f"  - {text}" for text in data["limits"])]
        self.emit(data, lines)
        return 0


def _plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) as JSON numbers; anything else as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def _table(rows: Sequence[dict[str, Any]]) -> list[str]:
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    return lines + ["  ".join(str(r.get(c)).ljust(widths[c]) for c in columns) for r in rows]


def main(argv: Sequence[str] | None = None, *, out: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> int:
    args = parse_args(argv)
    quiet_logs(err)
    try:
        services = Services(target_of(args), query_interval=args.query_interval)
        cli = Cli(args, services, out, err)
        handler: Callable[[], int] = getattr(cli, args.command.replace("-", "_"))
        # The layer prints nothing but metrics (EMF lines for CloudWatch, which a command line has no use
        # for; Powertools' single_metric prints them even with POWERTOOLS_METRICS_DISABLED): dropped.
        with contextlib.redirect_stdout(io.StringIO()):
            return handler()
    except (TargetError, AccessError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    except BotoCoreError as exc:  # the caller's AWS set-up (credentials, region) met mid-command: one line
        err.write(f"error: {explain(exc) or exc}\n")
        return 2
    except actions.OpsError as exc:
        err.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
