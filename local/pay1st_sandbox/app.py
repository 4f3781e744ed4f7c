"""The WSGI application: routing, counting, fault injection and error bodies, around the three surfaces
(gateway API, hosted checkout page, control API)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import control
from .checkout import (
    COMPLETE_PATH,
    PAGE_PATH,
    RESULT_PATH,
    STEPS_PATH,
    CheckoutError,
    CheckoutPages,
    error_page,
)
from .checkout_steps import CheckoutSteps
from .control import ControlApi, control_json
from .errors import ControlError, GatewayError
from .gateway import GatewayApi, json_response
from .refund_api import RefundApi
from .state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger("pay1st_sandbox")

Handler = Callable[..., Response]


class SandboxApp:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        gateway = GatewayApi(state)
        checkout = CheckoutPages(state)
        steps = CheckoutSteps(state)
        routes: list[tuple[str, str, Handler]] = [
            *gateway.routes(),
            *RefundApi(gateway).routes(),
            (PAGE_PATH, "GET", checkout.page),
            (COMPLETE_PATH, "POST", checkout.complete),
            (RESULT_PATH, "GET", checkout.result),
            (STEPS_PATH, "GET", steps.page),
            (STEPS_PATH, "POST", steps.take),
            ("/", "GET", self.index),
            *ControlApi(state).routes(),
        ]
        self._handlers: dict[str, Handler] = {}
        rules = []
        for path, method, handler in routes:
            endpoint = f"{method} {path}"
            self._handlers[endpoint] = handler
            rules.append(Rule(path, methods=[method], endpoint=endpoint))
        self._map = Map(rules, strict_slashes=False)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.dispatch(Request(environ))
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        is_control = request.path == control.PREFIX or request.path.startswith(control.PREFIX + "/")
        route = f"{request.method} {request.path}"
        if not is_control:  # polling the control API must not move the counters it reads
            self.state.counters.request(route)
        try:
            handler, arguments = self._match(request, is_control)
            if not is_control:
                self._inject_faults(route, request.path)
            return handler(request, **arguments)
        except GatewayError as exc:
            return self._gateway_error(request, exc)
        except CheckoutError as exc:
            self.state.counters.error(exc.code)
            return error_page(exc.status, exc.code, exc.message)
        except ControlError as exc:
            return control_json({"code": exc.code, "message": exc.message}, exc.status)
        except Exception:  # a sandbox bug: answer like a gateway fault, never with a stack trace
            logger.exception("unhandled error on %s", route)
            return self._gateway_error(
                request, GatewayError(500, "INTERNAL_ERROR", "Unexpected sandbox error.")
            )

    def _match(self, request: Request, is_control: bool) -> tuple[Handler, Mapping[str, Any]]:
        adapter = self._map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except NotFound:
            if is_control:
                raise ControlError(404, "NOT_FOUND", "no such control route") from None
            raise GatewayError(404, "NOT_FOUND", "No such resource.") from None
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            if is_control:
                raise ControlError(405, "METHOD_NOT_ALLOWED", f"allowed: {allowed}") from None
            raise GatewayError(
                405, "METHOD_NOT_ALLOWED", "Method not allowed.", headers={"Allow": allowed}
            ) from None
        return self._handlers[str(endpoint)], arguments

    def _inject_faults(self, route: str, path: str) -> None:
        faults = self.state.faults
        self.state.pause(faults.latency(route))
        if path.startswith("/api/") and faults.over_rate_limit():
            self.state.counters.incr("faults_injected")
            raise GatewayError(429, "TOO_MANY_REQUESTS", "Rate limit exceeded.", headers={"Retry-After": "1"})
        status = faults.injected_status(route)
        if status == 429:
            self.state.counters.incr("faults_injected")
            raise GatewayError(429, "TOO_MANY_REQUESTS", "Too many requests.", headers={"Retry-After": "1"})
        if status is not None:
            self.state.counters.incr("faults_injected")
            raise GatewayError(status, "INTERNAL_ERROR", "The gateway failed to process the request.")

    def _gateway_error(self, request: Request, exc: GatewayError) -> Response:
        session_id = uuid.uuid4().hex
        self.state.counters.error(exc.code)
        logger.info(
            "%s %s -> %d %s (session %s)", request.method, request.path, exc.status, exc.code, session_id
        )
        if request.path.startswith(PAGE_PATH):
            response = error_page(exc.status, exc.code, exc.message)
        else:
            body = {"errorMessage": exc.message, "errorCode": exc.code, "sessionId": session_id}
            response = json_response(exc.status, body)
        response.headers.update(exc.headers)
        return response

    def index(self, request: Request) -> Response:
        return json_response(
            200,
            {
                "service": "Pay1st sandbox (a local stand-in for the Pay1st Gateway)",
                "api": "/api/pay1st/",
                "checkout": PAGE_PATH,
                "control": f"{control.PREFIX}/",
                "docs": "local/pay1st_sandbox/README.md",
            },
        )
