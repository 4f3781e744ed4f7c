"""``python -m local_stack listen --forward-to URL``: each event the local bus receives, posted to the partner's
endpoint and printed, like ``stripe listen --forward-to``.

Deployed, a partner receives the payment events with an EventBridge rule on the stack's bus; one whose
fulfilment is an HTTP endpoint uses an API destination, which POSTs the whole event (``detail-type``,
``detail``...) as JSON. This does the same locally: it reads the events the running stack's partner tap
received (the runner's ``/_local/events``, an EventBridge rule on the local bus into a queue) and POSTs each
one, once, to ``--forward-to``, with the headers given (an API destination's connection adds its own: an API
key, Basic or OAuth). Like ``stripe listen``, it forwards what happens after it starts (``--replay`` sends the
events received before too) and does not retry a delivery the endpoint refused: it prints the answer, and the
event stays in ``/_local/events`` (and in a deployed stack's archive, for a replay).

Each event is the envelope EventBridge delivers, valid against schemas/events/ (moto leaves out ``account``,
which EventBridge always sets: the local account is filled in).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import IO, Any

import urllib3

from local_stack.own_routes import EVENTS_PATH, INFO_PATH
from local_stack.partner_cli import DEFAULT_API_URL
from local_stack.resolver import PSEUDO_PARAMETERS


class ListenFailed(Exception):
    """No local stack answers (or it answers something else than a local stack)."""


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


class Listener:
    def __init__(
        self,
        api_url: str,
        forward_to: str,
        out: IO[str],
        *,
        headers: Mapping[str, str] | None = None,
        detail_types: Sequence[str] = (),
        print_json: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.forward_to = forward_to
        self.out = out
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.detail_types = frozenset(detail_types)
        self.print_json = print_json
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=timeout))
        self._seen: set[str] = set()
        self.account = PSEUDO_PARAMETERS["AWS::AccountId"]

    def start(self, *, replay: bool = False) -> None:
        """Check a local stack answers; unless ``replay``, what it received so far counts as seen."""
        info = self._local(INFO_PATH)
        if not isinstance(info, dict) or "apiUrl" not in info:
            raise ListenFailed(f"{self.api_url} does not answer like a local stack ({INFO_PATH})")
        if not replay:
            self._seen.update(self._key(event) for event in self._local(EVENTS_PATH))
        kinds = ", ".join(sorted(self.detail_types)) or "every event"
        self.say(f"Ready: forwarding {kinds} from {self.api_url}'s bus to {self.forward_to} (Ctrl-C to stop)")

    def poll(self) -> int:
        """Forward the events received since the last poll; how many were posted."""
        posted = 0
        for event in self._local(EVENTS_PATH):
            key = self._key(event)
            if key in self._seen:
                continue
            self._seen.add(key)
            if self.detail_types and event.get("detail-type") not in self.detail_types:
                continue
            self.forward({"account": self.account, **event})
            posted += 1
        return posted

    def forward(self, event: Mapping[str, Any]) -> int | None:
        """POST one event; the endpoint's status (None: it could not be reached)."""
        detail = event.get("detail") or {}
        self.say(f"--> {event.get('detail-type')} [{detail.get('eventId')}]")
        if self.print_json:
            self.say(json.dumps(event, indent=2))
        try:
            response = self.http.request(
                "POST", self.forward_to, body=json.dumps(event).encode("utf-8"), headers=self.headers
            )
        except urllib3.exceptions.HTTPError as exc:
            self.say(f"<-- could not reach {self.forward_to}: {exc} [{detail.get('eventId')}]")
            return None
        self.say(f"<-- [{response.status}] POST {self.forward_to} [{detail.get('eventId')}]")
        return response.status

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        while not stop.is_set():
            self.poll()
            stop.wait(interval)

    def say(self, text: str) -> None:
        self.out.write(f"{text}\n")
        self.out.flush()

    @staticmethod
    def _key(event: Mapping[str, Any]) -> str:
        """EventBridge's id for one delivery (a re-published event is a new delivery, as a rule sees it)."""
        return str(event.get("id") or json.dumps(event, sort_keys=True))

    def _local(self, path: str) -> Any:
        try:
            response = self.http.request("GET", f"{self.api_url}{path}")
        except urllib3.exceptions.HTTPError as exc:
            raise ListenFailed(
                f"no local stack answers at {self.api_url} ({type(exc).__name__}): start one with "
                "`python -m local_stack start-api` (or `make serve`), or pass --api-url"
            ) from exc
        if response.status != 200:
            raise ListenFailed(f"GET {self.api_url}{path}: {response.status} {response.data[:200]!r}")
        return json.loads(response.data)


def cmd_listen(args: argparse.Namespace) -> int:
    listener = Listener(
        args.api_url,
        args.forward_to,
        sys.stdout,
        headers=dict(args.header or []),
        detail_types=args.events.split(",") if args.events else (),
        print_json=args.print_json,
    )
    stop = threading.Event()
    try:
        listener.start(replay=args.replay)
        listener.run(stop, args.interval)
    except ListenFailed as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    except KeyboardInterrupt:
        stop.set()
    return 0


def add_listen_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listen = commands.add_parser(
        "listen",
        help="post each event the running local stack's bus receives to your endpoint, like `stripe listen`",
    )
    listen.add_argument(
        "--forward-to", required=True, metavar="URL", help="your endpoint (each event is POSTed as JSON)"
    )
    listen.add_argument("--api-url", default=DEFAULT_API_URL, help="the running local API (start-api/serve)")
    listen.add_argument(
        "--header",
        "-H",
        action="append",
        type=_header,
        metavar="'Name: value'",
        help="add this header to each POST (repeatable), e.g. what your API destination's connection sends",
    )
    listen.add_argument(
        "--events", metavar="DETAIL-TYPES", help="only these, comma-separated (e.g. 'Payment Succeeded')"
    )
    listen.add_argument("--replay", action="store_true", help="also forward the events received before")
    listen.add_argument("--print-json", action="store_true", help="print each event whole, not one line")
    listen.add_argument("--interval", type=float, default=0.5, help="seconds between looks at the bus")
    listen.set_defaults(handler=cmd_listen)
