"""`python -m local_stack listen --forward-to URL`: the local bus's events posted to a partner endpoint (a real
HTTP server on loopback), printed, each once, valid against schemas/events/."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
from local_stack.__main__ import main
from local_stack.listen import Listener
from local_stack.stack import LocalStack
from local_stack.triggers import Trigger

from release.event_schemas import by_detail_type
from tests.local.local_kit import running_stack
from tests.loopback import serve_in_background


@dataclass
class Endpoint:
    """The partner's endpoint: records each POST, answers ``status``."""

    url: str = ""
    status: int = 200
    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), json.loads(body)))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve_in_background(server)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/pay1st-events"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "listen") as running:
        yield running


def put_on_bus(stack: LocalStack, detail: dict[str, Any]) -> None:
    bus = stack.provisioned.refs["PaymentEventsBus"]
    stack.client("events").put_events(
        Entries=[
            {
                "Source": "pay1st.partner",
                "DetailType": "Payment Failed",
                "Detail": json.dumps(detail),
                "EventBusName": bus,
            }
        ]
    )
    stack.published_events(wait_seconds=1)


def test_listen_forwards_each_new_event_once_to_the_endpoint_and_prints_it(
    stack: LocalStack, endpoint: Endpoint
) -> None:
    # Given an event the bus received before the listener started
    put_on_bus(stack, {"eventId": "before:FAILED", "partnerReference": "before"})
    out = io.StringIO()
    listener = Listener(stack.api_url, endpoint.url, out, headers={"X-Api-Key": "partner-key"})
    listener.start()
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop, 0.1), daemon=True)
    thread.start()
    try:
        # When a customer pays (the trigger drives the sandbox and waits for the partner's event)
        reference = Trigger(stack.api_url, io.StringIO(), timeout=30).run("payment.succeeded")
        stop.wait(0.5)
    finally:
        stop.set()
        thread.join(5)
    # Then the endpoint received that one event, as EventBridge delivers it, with the header asked for
    assert [body["detail"]["eventId"] for _, body in endpoint.received] == [f"{reference}:SUCCESSFUL"]
    headers, body = endpoint.received[0]
    assert headers["Content-Type"] == "application/json" and headers["X-Api-Key"] == "partner-key"
    assert (body["source"], body["detail-type"]) == ("pay1st.partner", "Payment Succeeded")
    schema = by_detail_type()["Payment Succeeded"]
    jsonschema.Draft4Validator(schema.document).validate(body)
    # And it printed the event and the endpoint's answer, like stripe listen
    printed = out.getvalue()
    assert f"--> Payment Succeeded [{reference}:SUCCESSFUL]" in printed
    assert f"<-- [200] POST {endpoint.url} [{reference}:SUCCESSFUL]" in printed
    assert "before:FAILED" not in printed
    # And another poll sends nothing again; a listener with --replay sends what came before too
    assert listener.poll() == 0
    replaying = Listener(stack.api_url, endpoint.url, io.StringIO(), detail_types=["Payment Failed"])
    replaying.start(replay=True)
    assert replaying.poll() == 1
    assert endpoint.received[-1][1]["detail"]["eventId"] == "before:FAILED"


def test_a_refused_delivery_is_printed_and_not_retried(stack: LocalStack, endpoint: Endpoint) -> None:
    # Given an endpoint that answers 500, and a listener
    endpoint.status = 500
    out = io.StringIO()
    listener = Listener(stack.api_url, endpoint.url, out)
    listener.start()
    # When an event arrives
    put_on_bus(stack, {"eventId": "refused:FAILED", "partnerReference": "refused"})
    assert listener.poll() == 1
    # Then the refusal is printed, and the event is not posted again
    assert f"<-- [500] POST {endpoint.url} [refused:FAILED]" in out.getvalue()
    assert listener.poll() == 0 and len(endpoint.received) == 1


def test_listen_without_a_running_stack_says_so_in_one_line(
    endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    # When listen is started where no local stack answers
    code = main(["listen", "--forward-to", endpoint.url, "--api-url", "http://127.0.0.1:9"])
    # Then it exits 2 with one line saying what to do, and posted nothing
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "no local stack answers at http://127.0.0.1:9" in err and "start-api" in err
    assert endpoint.received == []
