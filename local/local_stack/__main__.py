"""``python -m local_stack {invoke,start-api,serve,demo,sign-event,routes,credentials,token,trigger,listen}``:
``sam local`` without Docker."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local_stack.demo import run_demo
from local_stack.listen import add_listen_command
from local_stack.partner_cli import add_partner_commands, describe_partner_auth
from local_stack.resolver import TemplateError
from local_stack.signing import sign_event
from local_stack.spec import FUNCTION_TYPE
from local_stack.stack import (
    DEFAULT_API_PORT,
    DEFAULT_MOTO_PORT,
    DEFAULT_SANDBOX_PORT,
    LocalStack,
    StackOptions,
)
from local_stack.template import TEMPLATE_PATH, load_template, resources_of_type
from local_stack.triggers import add_trigger_command

LOCAL_SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"  # the sandbox's documented default Signing Key


def _key_values(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected Key=Value, got {pair!r}")
        values[key] = value
    return values


def _read_event(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def _options(args: argparse.Namespace, **overrides: Any) -> StackOptions:
    env_vars = json.loads(Path(args.env_vars).read_text(encoding="utf-8")) if args.env_vars else {}
    options = StackOptions(
        template_path=Path(args.template),
        host=args.host,
        parameter_overrides=_key_values(args.parameter_overrides or []),
        env_vars=env_vars,
    )
    for name, value in overrides.items():
        setattr(options, name, value)
    return options


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--template", "-t", default=str(TEMPLATE_PATH), help="the SAM template (template.yaml)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (loopback by default)")
    parser.add_argument(
        "--parameter-overrides", nargs="*", metavar="Key=Value", help="template parameter values, like sam's"
    )
    parser.add_argument(
        "--env-vars",
        metavar="FILE",
        help='JSON like sam\'s: {"Parameters": {...}, "<FunctionLogicalId>": {...}}',
    )


def _check_functions(template_path: Path, function_ids: list[str]) -> None:
    """Refuse an unknown function before starting anything (a stack takes seconds to start)."""
    known = resources_of_type(load_template(template_path), FUNCTION_TYPE)
    for function_id in function_ids:
        if function_id not in known:
            raise TemplateError(f"{function_id} is not a function of {template_path.name}")


def cmd_invoke(args: argparse.Namespace) -> int:
    steps = [value.partition("=")[0] for kind, value in args.steps if kind in ("setup", "poll")]
    _check_functions(Path(args.template), [args.function_id, *steps])
    event = _read_event(args.event)
    if args.sign:
        event = sign_event(event, args.signing_key)
    options = _options(
        args, api_port=0, moto_port=0, sandbox_port=0, function_log=sys.stderr, event_sources=False
    )
    with LocalStack(options) as stack:
        for kind, value in args.steps:  # in the order given on the command line
            if kind == "setup":
                function_id, _, path = value.partition("=")
                before = stack.invoke(function_id, _read_event(path))
                sys.stderr.write(
                    f"setup {function_id} {path}: {json.dumps(before.result if before.ok else before.error)}\n"
                )
            elif kind == "settle":
                _settle(stack, value)
            else:
                _poll(stack, value)
        result = stack.invoke(args.function_id, event)
    sys.stdout.write(json.dumps(result.result if result.ok else result.error, indent=2) + "\n")
    return 0 if result.ok else 1


class _Step(argparse.Action):
    """Appends ``(option name, value)`` to ``steps``, so set-up steps run in the order they were given."""

    def __call__(
        self, parser: Any, namespace: argparse.Namespace, value: Any, option: str | None = None
    ) -> None:
        steps = list(getattr(namespace, "steps", None) or [])
        steps.append((self.dest, value))
        namespace.steps = steps


def _poll(stack: LocalStack, function_id: str) -> None:
    """One batch of the function's SQS source, or one run of its schedule."""
    if function_id in stack.pollers:
        outcome = stack.poll_queue(function_id)
        sys.stderr.write(f"poll {function_id}: {outcome.received} received, {outcome.failed} failed\n")
    elif function_id in stack.schedules:
        result = stack.run_schedule(function_id)
        sys.stderr.write(f"poll {function_id}: {json.dumps(result.result if result.ok else result.error)}\n")
    else:
        raise TemplateError(f"{function_id} has no SQS or schedule event source to poll")


def _settle(stack: LocalStack, outcome: str) -> None:
    """Press a checkout button for every open sandbox payment, then let its webhook reach the stack."""
    assert stack.sandbox is not None
    control = stack.sandbox.control
    for payment in control.payments():
        if payment.get("status") in ("NEW", "PENDING"):
            control.settle(payment["reference"], outcome)
            sys.stderr.write(
                f"settle {payment['reference']} ({payment.get('partnerReference')}): {outcome}\n"
            )
    control.flush_webhooks(timeout=15)


def _wait_forever(stack: LocalStack) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sys.stderr.write("stopping\n")
        stack.stop()


def _print_routes(stack: LocalStack) -> None:
    checked = "checked" if stack.options.enforce_auth else "NOT checked (--no-auth)"
    for route in stack.routes:
        auth = "" if route.authorizer == "NONE" else f" (auth {route.authorizer}, {checked})"
        print(f"  {route.method:<5} {stack.api_url}{route.path} -> {route.function_id}{auth}")
    print(describe_partner_auth(stack))


def _serve_options(args: argparse.Namespace) -> StackOptions:
    return _options(
        args,
        api_port=args.port,
        moto_port=args.moto_port,
        sandbox_port=args.sandbox_port,
        function_log=sys.stderr,
        prewarm=True,
        schedule_interval=args.schedule_interval,
        enforce_auth=not args.no_auth,
    )


def cmd_start_api(args: argparse.Namespace) -> int:
    stack = LocalStack(_serve_options(args)).start()
    assert stack.sandbox is not None
    print(f"Local API on {stack.api_url} (from {args.template}); Ctrl-C to stop")
    _print_routes(stack)
    print(f"  Pay1st sandbox {stack.sandbox.base_url}, moto {stack.endpoint_url}")
    sys.stdout.flush()
    _wait_forever(stack)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    stack = LocalStack(_serve_options(args)).start()
    assert stack.sandbox is not None
    import urllib3

    order = {
        "partnerReference": f"browser-{time.strftime('%H%M%S')}",
        "amount": 250.50,
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "products": [
            {"title": "500 Gems", "sku": "GEM-500", "price": 250.50, "quantity": 1, "currencyCode": "ZAR"}
        ],
        "metadata": [{"key": "playerId", "value": "p-42"}],
    }
    url = f"{stack.api_url}/payments"
    body = json.dumps(order).encode("utf-8")
    headers = stack.partner_headers("POST", url, body, {"Content-Type": "application/json"})
    response = urllib3.request(
        "POST", url, body=body, headers=headers, retries=False, timeout=urllib3.Timeout(total=30)
    )
    print(
        f"Local stack up: API {stack.api_url}, Pay1st sandbox {stack.sandbox.base_url}, moto {stack.endpoint_url}"
    )
    _print_routes(stack)
    if response.status == 201:
        created = json.loads(response.data)
        print(
            f"\nOpen this checkout link in a browser, press Pay, and land on the result page:\n\n  {created['checkoutUrl']}\n"
        )
    else:
        print(f"could not create a payment: {response.status} {response.data[:300]!r}")
    print("Ctrl-C to stop")
    sys.stdout.flush()
    _wait_forever(stack)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(template_path=Path(args.template), refund=args.refund)


def cmd_sign_event(args: argparse.Namespace) -> int:
    signed = sign_event(_read_event(args.event), args.signing_key)
    text = json.dumps(signed, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    options = _options(args, api_port=0, moto_port=0, sandbox_port=0, with_sandbox=False, event_sources=False)
    with LocalStack(options) as stack:
        for route in stack.routes:
            print(f"{route.method} {route.path} {route.function_id} {route.authorizer}")
    return 0


def cmd_expand_template(args: argparse.Namespace) -> int:
    text = json.dumps(load_template(args.template), indent=1) + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    invoke = commands.add_parser(
        "invoke", help="invoke one function once with an event file, like sam local invoke"
    )
    invoke.add_argument("function_id", metavar="FunctionLogicalId")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file ('-' for stdin)")
    invoke.add_argument(
        "--sign", action="store_true", help="re-sign the event's body with a fresh X-TIMESTAMP"
    )
    invoke.add_argument(
        "--signing-key", default=LOCAL_SIGNING_KEY, help="for --sign (default: the sandbox's)"
    )
    # --setup, --settle and --poll are steps run before the invocation, in the order given (repeatable):
    # e.g. --setup Create=... --settle pay --setup Fulfilment=... --poll FulfilmentSenderFunction.
    invoke.add_argument(
        "--setup", action=_Step, metavar="FunctionLogicalId=FILE", help="invoke this first (repeatable)"
    )
    invoke.add_argument(
        "--settle",
        action=_Step,
        choices=["pay", "fail", "cancel", "offline", "abandon"],
        help="press this checkout button for the open payments and deliver their webhooks",
    )
    invoke.add_argument(
        "--poll",
        action=_Step,
        metavar="FunctionLogicalId",
        help="run one batch of the function's SQS source (or its schedule), e.g. FulfilmentSenderFunction",
    )
    _common(invoke)
    invoke.set_defaults(handler=cmd_invoke, steps=[])

    for name, handler, text in (
        (
            "start-api",
            cmd_start_api,
            "serve the template's HTTP API routes locally, like sam local start-api",
        ),
        ("serve", cmd_serve, "start-api plus a fresh checkout link to open in a browser"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--port", "-p", type=int, default=DEFAULT_API_PORT, help="local API port")
        command.add_argument("--moto-port", type=int, default=DEFAULT_MOTO_PORT)
        command.add_argument("--sandbox-port", type=int, default=DEFAULT_SANDBOX_PORT)
        command.add_argument(
            "--schedule-interval",
            type=float,
            help="seconds between scheduled runs (default: the template's rate)",
        )
        command.add_argument(
            "--no-auth",
            action="store_true",
            help="accept unsigned partner calls (the partner routes' IAM/JWT authorizer is not enforced)",
        )
        _common(command)
        command.set_defaults(handler=handler)

    demo = commands.add_parser("demo", help="one complete payment end to end, step by step")
    demo.add_argument("--template", "-t", default=str(TEMPLATE_PATH))
    demo.add_argument(
        "--refund", action="store_true", help="then refund part of it: refund webhook, 'Refund Succeeded'"
    )
    demo.set_defaults(handler=cmd_demo)

    sign = commands.add_parser("sign-event", help="re-sign a webhook sample with a fresh timestamp")
    sign.add_argument("event", help="event JSON file ('-' for stdin)")
    sign.add_argument("--signing-key", default=LOCAL_SIGNING_KEY)
    sign.add_argument("--output", "-o", help="write here instead of stdout")
    sign.set_defaults(handler=cmd_sign_event)

    routes = commands.add_parser("routes", help="list the HTTP API routes the template declares")
    _common(routes)
    routes.set_defaults(handler=cmd_routes)

    expand = commands.add_parser(
        "expand-template",
        help="the template as JSON with its Fn::ForEach loops expanded, as CloudFormation reads it (for checkov)",
    )
    expand.add_argument("--template", "-t", default=str(TEMPLATE_PATH))
    expand.add_argument("--output", "-o", help="write here instead of stdout")
    expand.set_defaults(handler=cmd_expand_template)

    add_partner_commands(commands)
    add_trigger_command(commands)
    add_listen_command(commands)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    if args.command == "demo":  # the demo tells its own story; errors still show
        logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        code: int = args.handler(args)
    except TemplateError as exc:
        sys.stderr.write(f"template.yaml cannot run locally: {exc}\n")
        return 2
    except OSError as exc:  # typically a port in use: say which, without a traceback
        sys.stderr.write(
            f"could not start the local stack: {exc} (choose other ports with -p/--moto-port/--sandbox-port)\n"
        )
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
