"""`SandboxServer`: the sandbox on a threaded Werkzeug server, in a background thread or in the foreground."""

from __future__ import annotations

import logging
import re
import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import SandboxApp
from .client import SandboxControl
from .config import DEFAULT_HOST, SandboxConfig
from .state import SandboxState

http_logger = logging.getLogger("pay1st_sandbox.http")
_TOKEN_IN_TEXT = re.compile(r"(accessToken=)[^&\s'\"]+")


class _RedactingRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler logs the whole request line, and a checkout link carries an access token."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(getattr(self, "path", "")).path or "-"
        http_logger.info("%s %s %s", getattr(self, "command", "-"), path, code)

    def log_message(self, format: str, *args: Any) -> None:
        http_logger.info("%s", _TOKEN_IN_TEXT.sub(r"\1***", format % args))

    def log_error(self, format: str, *args: Any) -> None:
        http_logger.warning("%s", _TOKEN_IN_TEXT.sub(r"\1***", format % args))


class SandboxServer:
    """The gateway API, hosted page and control API on one port.

    In-process: ``with SandboxServer(SandboxConfig(), port=0) as sandbox: ... sandbox.base_url``.
    """

    def __init__(self, config: SandboxConfig | None = None, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.state = SandboxState(self.config)
        self.app = SandboxApp(self.state)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SandboxServer({self.base_url if self._server else 'not started'})"

    def _bind(self) -> BaseWSGIServer:
        if self._server is None:
            self._server = make_server(
                self._host, self._port, self.app, threaded=True, request_handler=_RedactingRequestHandler
            )
            self.state.start()
        return self._server

    def start(self) -> SandboxServer:
        """Listen (bound when this returns) and serve from a daemon thread."""
        if self._thread is None:
            server = self._bind()
            # A short poll keeps stop() quick, which matters to test suites that start one per test.
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="pay1st-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        # First release handlers stalled by a fault, then stop accepting, then stop the webhook worker.
        self.state.stop()
        if server is not None and thread is not None:
            server.shutdown()
            thread.join(timeout=5)
        if server is not None:
            server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        """Where clients reach it; a wildcard bind is reached on loopback."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self._host, self._host)  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> SandboxControl:
        return SandboxControl(self.base_url)
