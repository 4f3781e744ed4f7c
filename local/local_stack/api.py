"""The local HTTP API: exactly the template's HttpApi routes, as API Gateway (payload 2.0) would call them.

Routes under ``/_local/`` are the runner's own (the result page), never the template's.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local_stack.aws import ACCOUNT_ID
from local_stack.issuer import LocalIssuer
from local_stack.partner_auth import PartnerAuthorizer
from local_stack.runtime import InvokeResult
from local_stack.spec import Route

LOCAL_PREFIX = "/_local/"
RESULT_PATH = "/_local/result"
INVALID_SIGNATURE = (
    "invalid_signature: this page's parameters are not the payment service's (edited or expired)"
)
FINAL_STATUSES = frozenset({"SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED"})
_TEXT_TYPES = ("text/", "application/json", "+json", "application/x-www-form-urlencoded", "xml", "javascript")

log = logging.getLogger("local_stack")

Invoker = Callable[[str, Any], InvokeResult]

# C0/C1 controls and Unicode line breaks: a decoded request path may hold any of them (%0d%0a).
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters written as Python escapes (CR LF → ``\\r\\n``), safe on one log line.

    A request like ``GET /payments/a%0d%0aX-Injected:1`` would otherwise split the access log line and forge
    a second one.
    """
    return _CONTROL_CHARACTERS.sub(lambda found: ascii(found.group())[1:-1], text)


def sorted_routes(routes: Iterable[Route]) -> list[Route]:
    """Most specific first, as API Gateway picks: literal paths, then parameters, then greedy, then $default."""

    def specificity(route: Route) -> tuple[bool, int, int, int, bool]:
        return (
            route.path == "$default",
            route.path.count("+}"),
            route.path.count("{"),
            -len(route.path),
            route.method == "ANY",
        )

    return sorted(routes, key=specificity)


def build_event(
    request: Request,
    route: Route,
    path_parameters: Mapping[str, str],
    domain: str,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event, as API Gateway builds it (``authorizer``: what the route's authorizer said)."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    raw_query = request.query_string.decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": route.api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
            **({"authorizer": dict(authorizer)} if authorizer else {}),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    body = request.get_data()
    if body:
        content_type = headers.get("content-type", "")
        is_text = any(marker in content_type for marker in _TEXT_TYPES)
        try:
            text = body.decode("utf-8") if is_text else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def to_response(result: InvokeResult) -> Response:
    """Map a payload 2.0 function result to HTTP, as API Gateway does (errors → its generic 500/503)."""
    if not result.ok:
        error = result.error or {}
        if error.get("errorType") == "Sandbox.Timedout":
            return _json_response(503, {"message": "Service Unavailable"})
        return _json_response(500, {"message": "Internal Server Error"})
    value = result.result
    if not (isinstance(value, dict) and "statusCode" in value):
        # HTTP API's inferred format: any other JSON result is a 200 with that JSON as the body.
        body = value if isinstance(value, str) else json.dumps(value)
        return Response(body, status=200, headers={"Content-Type": "application/json"})
    headers = Headers()
    for name, header_value in (value.get("headers") or {}).items():
        headers.add(name, str(header_value))
    for cookie in value.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    raw_body = value.get("body") or ""
    body_bytes = base64.b64decode(raw_body) if value.get("isBase64Encoded") else str(raw_body).encode("utf-8")
    if "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    return Response(body_bytes, status=int(value["statusCode"]), headers=headers)


def _json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


class LocalApi:
    """WSGI app routing the template's routes to their functions, plus the runner's own result page."""

    def __init__(
        self,
        routes: Sequence[Route],
        invoke: Invoker,
        *,
        status_lookup: Callable[[str], str | None] | None = None,
        authorizer: PartnerAuthorizer | None = None,
        own_routes: Callable[[Request], Response | None] | None = None,
        result_key: Callable[[], bytes] | None = None,
    ) -> None:
        self.routes = sorted_routes(routes)
        self._invoke = invoke
        self._status_lookup = status_lookup
        # Without one (the runner's own unit tests), partner routes count as authorized, unchecked.
        self.authorizer = authorizer or PartnerAuthorizer(LocalIssuer("http://127.0.0.1"), enforce=False)
        self._own_routes = own_routes
        # The key the callback redirect signs with; None (the runner's own unit tests): nothing checked.
        self._result_key = result_key

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path == RESULT_PATH:
            return self._result_page(request)
        if request.path.startswith(LOCAL_PREFIX) and self._own_routes is not None:
            own = self._own_routes(request)
            if own is not None:
                return own
        for route in self.routes:
            path_parameters = route.match(request.method, request.path)
            if path_parameters is not None:
                decision = self.authorizer.decide(route, request)
                if not decision.allowed:
                    log.info(
                        "%s %s -> %s %s (refused by its %s authorizer: %s)",
                        printable(request.method),
                        printable(request.path),  # never the query (below)
                        route.function_id,
                        decision.status,
                        route.authorizer,
                        decision.message,
                    )
                    return _json_response(decision.status, {"message": decision.message}, decision.headers)
                event = build_event(request, route, path_parameters, request.host, decision.context)
                started = time.perf_counter()
                result = self._invoke(route.function_id, event)
                response = to_response(result)
                log.info(
                    "%s %s -> %s %s (%.0f ms%s)",
                    printable(request.method),
                    # The path only, never the query: callbacks carry their token in it (the template's
                    # access log omits query strings too, and the README says no token is ever logged).
                    printable(request.path),
                    route.function_id,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                    ", cold" if result.cold else "",
                )
                if not result.ok:
                    error = result.error or {}
                    log.error(
                        "%s failed: %s: %s",
                        route.function_id,
                        printable(str(error.get("errorType"))),
                        printable(str(error.get("errorMessage"))),
                    )
                return response
        return _json_response(404, {"message": "Not Found"})

    def _result_page(self, request: Request) -> Response:
        """The partner's result page: checks the redirect's signature as a partner's page must
        (``pay1st_partner_client.result_page.verify_result_params``), then shows the payment's current
        status, refreshing until it is final. An edited or expired URL is refused and shows no status."""
        query = {name: request.args.get(name, "") for name in request.args}
        if self._result_key is not None:
            from pay1st_partner_client.result_page import verify_result_params

            verified = verify_result_params(self._result_key(), query)
            if verified is None:
                return _page(
                    [("Payment", "(not verified)"), ("Status", "(not shown)"), ("Error", INVALID_SIGNATURE)],
                    refresh=False,
                )
            query = dict(verified)
        reference = query.get("partnerReference", "")
        reported = query.get("status", "")
        error = query.get("error", "")
        status = (self._status_lookup(reference) if self._status_lookup and reference else None) or reported
        rows = [
            ("Payment", reference or "(none)"),
            ("Status", status or "(unknown)"),
            ("Callback said", f"{reported or '-'} / outcome {query.get('outcome', '-')}"),
        ]
        if error:
            rows.append(("Error", error))
        return _page(rows, refresh=status not in FINAL_STATUSES and not error)


def _page(rows: Sequence[tuple[str, str]], *, refresh: bool) -> Response:
    cells = "".join(
        f'<tr><th>{html.escape(k)}</th><td id="{html.escape(k.lower().replace(" ", "-"))}">'
        f"{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    meta = '<meta http-equiv="refresh" content="1">' if refresh else ""
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'>{meta}<title>Payment result</title></head>"
        f"<body><h1>Payment result</h1><table>{cells}</table></body></html>"
    )
    return Response(page, status=200, headers={"Content-Type": "text/html; charset=utf-8"})


class ApiServer:
    """A threaded Werkzeug server for the local API, in a background thread."""

    def __init__(self, app: LocalApi, host: str = "127.0.0.1", port: int = 3000) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        # A short poll keeps stop() quick (the default half second was paid by every stack a test stopped).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        reachable = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - mapping a wildcard bind
        self.base_url = f"http://{reachable}:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop that never ran
            self._server.shutdown()
        self._server.server_close()
