"""`python -m pay1st_sandbox`: run the sandbox standalone (the README lists every flag)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from .config import DEFAULT_API_KEY, DEFAULT_HOST, DEFAULT_PORT, SandboxConfig
from .server import SandboxServer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pay1st_sandbox", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to bind (default loopback only)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault injection (default 0)")
    parser.add_argument(
        "--default-webhook-url", help="the Console's webhook URL (a payment's webhookUrl wins)"
    )
    parser.add_argument(
        "--default-callback-base",
        help="the Console's callback URLs are <base>/success, /failure, /pending and /cancel",
    )
    parser.add_argument("--api-key", help="overrides PAY1ST_SANDBOX_API_KEY and the default")
    parser.add_argument("--api-secret", help="overrides PAY1ST_SANDBOX_API_SECRET and the default")
    parser.add_argument("--signing-key", help="overrides PAY1ST_SANDBOX_SIGNING_KEY and the default")
    parser.add_argument(
        "--webhook-scheme",
        choices=["signing-key", "basic-auth"],
        default="signing-key",
        help="how webhooks are signed (§10; default signing-key; POST /_sandbox/webhooks/signing changes it)",
    )
    parser.add_argument(
        "--webhook-username", help="overrides PAY1ST_SANDBOX_WEBHOOK_USERNAME and the default"
    )
    parser.add_argument(
        "--webhook-password", help="overrides PAY1ST_SANDBOX_WEBHOOK_PASSWORD and the default"
    )
    parser.add_argument("--token-lifetime", type=float, default=300.0, help="access token lifetime, s (300)")
    parser.add_argument(
        "--offline-settle-seconds",
        type=float,
        default=30.0,
        help="an offline payment settles to SUCCESSFUL after this long; 0 = only via the control API (30)",
    )
    parser.add_argument(
        "--refund-settle-seconds",
        type=float,
        default=5.0,
        help="a refund settles by itself after this long, s (5)",
    )
    parser.add_argument(
        "--refund-reference",
        choices=["payment", "transaction"],
        default="payment",
        help="which reference refunds name (§15): the payment's C-…-P (default), or C-…-T transaction ids the "
        "sandbox then shows in its answers and webhooks (the fault refund_reference changes it at run time)",
    )
    parser.add_argument(
        "--webhook-attempts",
        dest="webhook_max_attempts",
        type=int,
        default=6,
        help="attempts per webhook delivery (6)",
    )
    parser.add_argument(
        "--webhook-backoff",
        dest="webhook_backoff_base",
        type=float,
        default=1.0,
        help="first retry delay, doubling, s (1)",
    )
    parser.add_argument("--webhook-backoff-cap", type=float, default=30.0, help="longest retry delay, s (30)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


# The flags that are not SandboxConfig fields; every other flag's dest is the field it sets (from_env
# refuses a name that is not one).
_SERVER_FLAGS = frozenset({"host", "port", "log_level"})


def config_from(args: argparse.Namespace) -> SandboxConfig:
    overrides = {name: value for name, value in vars(args).items() if name not in _SERVER_FLAGS}
    # 0: settled only through the control API, which is the config's None (from_env keeps its default).
    overrides["offline_settle_seconds"] = args.offline_settle_seconds or None
    return SandboxConfig.from_env(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from(args)
    server = SandboxServer(config, host=args.host, port=args.port)
    server.start()
    # Custom credentials are never printed, not even the API key.
    credentials = f"the documented defaults (API key {DEFAULT_API_KEY})"
    if config.api_key != DEFAULT_API_KEY:
        credentials = "custom, from flags/environment"
    print(f"Pay1st sandbox listening on {server.base_url} (API, checkout page and /_sandbox/ control API)")
    print(f"Credentials: {credentials}; see local/pay1st_sandbox/README.md")
    print("Press Ctrl+C to stop.", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
