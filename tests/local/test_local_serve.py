"""`make serve` / `start-api` as a user runs them (a subprocess on free ports), and the runner's access log."""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import urllib3
from local_stack import template as template_module
from local_stack.api import LocalApi
from local_stack.runtime import InvokeResult
from local_stack.spec import Route
from local_stack.template import PROJECT_ROOT, load_template
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.local.local_kit import partner_request

FREE_PORTS = ("-p", "0", "--moto-port", "0", "--sandbox-port", "0")
START_TIMEOUT_SECONDS = 90


class Server:
    """A `python -m local_stack` server process: its stdout read line by line, its stderr in a file."""

    def __init__(self, command: str, log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[str] = open(log_path, "w", encoding="utf-8")  # closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI with fixed arguments
            [sys.executable, "-m", "local_stack", command, *FREE_PORTS],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "local"), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT_SECONDS) -> re.Match[str]:
        """The first stdout line (from here on) matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(
                    f"no line matching {pattern!r}; stdout {self.stdout}; stderr {self.stderr()}"
                )
            self.stdout.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8")

    def terminate(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    """Starts a server command; whatever is still running at the end is killed."""
    started: list[Server] = []

    def start_command(command: str) -> Server:
        started.append(Server(command, tmp_path / f"{command}.stderr"))
        return started[-1]

    yield start_command
    for each in started:
        each.stop()


def test_start_api_serves_the_routes_and_stops_cleanly_on_sigterm(start: Callable[[str], Server]) -> None:
    api = start("start-api")
    base_url = api.wait_for(r"Local API on (http://127\.0\.0\.1:\d+) ").group(1)
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=30))

    unsigned = http.request("GET", f"{base_url}/payment-methods?countryCode=NG")
    assert (unsigned.status, json.loads(unsigned.data)) == (403, {"message": "Forbidden"})
    methods = partner_request(http, "GET", f"{base_url}/payment-methods?countryCode=NG")
    assert methods.status == 200, methods.data
    body = json.loads(methods.data)
    assert body["countryCode"] == "NG" and body["groups"]

    unknown = http.request("GET", f"{base_url}/no-such-route")
    assert (unknown.status, json.loads(unknown.data)) == (404, {"message": "Not Found"})

    # A decoded CR LF in the path stays on the access log's one line.
    # Upper-case escapes: urllib3 normalizes them so, and SigV4 signs the path as sent.
    injected = partner_request(http, "GET", f"{base_url}/payments/a%0D%0AX-Injected:1")
    assert injected.status == 404  # not a partner reference

    # A callback's token (in its query string) never reaches the access log
    callback = http.request(
        "GET", f"{base_url}/callbacks/success?partnerReference=o-1&token=SECRET-TOKEN", redirect=False
    )
    assert callback.status in (302, 400, 404), callback.status

    assert api.terminate() == 0
    stderr = api.stderr()
    assert "stopping" in stderr and "Traceback" not in stderr
    assert "GET /payment-methods -> PaymentMethodsFunction 200" in stderr  # no query string
    assert "GET /callbacks/success -> " in stderr and "SECRET-TOKEN" not in stderr
    assert not [line for line in stderr.splitlines() if " -> " in line and "?" in line]
    assert r"GET /payments/a\r\nX-Injected:1 -> PaymentStatusFunction 404" in stderr
    assert not any(line.startswith("X-Injected") for line in stderr.splitlines())


def test_serve_prints_a_checkout_link_and_stops_cleanly_on_sigterm(start: Callable[[str], Server]) -> None:
    serve = start("serve")
    up = serve.wait_for(r"Local stack up: API (\S+), Pay1st sandbox (\S+),")
    sandbox_url = up.group(2)
    link = serve.wait_for(r"^\s+(http\S+/checkout\?\S+)$").group(1)
    assert link.startswith(f"{sandbox_url}/checkout?reference=C-")
    serve.wait_for("Ctrl-C to stop")

    page = urllib3.request("GET", link, retries=False, timeout=urllib3.Timeout(total=30))
    assert page.status == 200 and b'id="checkout-form"' in page.data

    assert serve.terminate() == 0
    assert "Traceback" not in serve.stderr()


def _route(path: str) -> Route:
    return Route(method="GET", path=path, function_id="EchoFunction", api_id="Api", authorizer="NONE")


def test_the_access_log_escapes_control_characters(caplog: pytest.LogCaptureFixture) -> None:
    def invoke(function_id: str, event: object) -> InvokeResult:
        return InvokeResult(function_id, result={"statusCode": 200, "body": "{}"})

    api = LocalApi([_route("/payments/{partnerReference}")], invoke)
    request = Request(EnvironBuilder(path="/payments/a%0d%0aX-Injected:1%00%e2%80%a8").get_environ())
    assert request.path == "/payments/a\r\nX-Injected:1\x00\u2028"  # what werkzeug hands the runner

    with caplog.at_level(logging.INFO, logger="local_stack"):
        response = api.dispatch(request)

    assert response.status_code == 200
    (message,) = [record.getMessage() for record in caplog.records if "EchoFunction" in record.getMessage()]
    assert message.startswith(r"GET /payments/a\r\nX-Injected:1\x00\u2028 -> EchoFunction 200")
    assert not re.search("[\x00-\x1f\u2028]", message)


def test_load_template_parses_once_per_file_version_and_hands_out_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses: list[object] = []
    real_load = template_module.yaml.load

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        parses.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(template_module.yaml, "load", counting_load)
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Sub 'q-${A}'}\n"
    )

    first = load_template(path)
    assert first["Resources"]["Queue"]["Properties"]["QueueName"] == {"Fn::Sub": "q-${A}"}
    first["Resources"].clear()  # a caller changing its copy changes nobody else's
    assert "Queue" in load_template(path)["Resources"]
    assert len(parses) == 1

    # A new version of the file (a later mtime, even on a coarse clock) is parsed again.
    path.write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert set(load_template(path)["Resources"]) == {"Topic"}
    assert len(parses) == 2
