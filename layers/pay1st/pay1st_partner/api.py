"""HTTP plumbing shared by the API handlers: a small HTTP API resolver mapping every error to JSON.

Every error answer is ``{"code": ..., "message": ...}`` with a stable code. Domain errors carry their
own status; a model's ``ValidationError`` is a 400 naming the field; anything unexpected is a 500
``internal_error`` with the details only in the log (no stack trace ever leaves the function).
Money in response bodies is a decimal *string* (as Powertools' encoder writes ``Decimal``),
so no amount is ever rounded through a float.

Why not Powertools' event handler: its package ``__init__`` imports every resolver it has (REST, ALB,
AppSync, Bedrock, VPC Lattice, OpenAPI...), ~85 ms of the ~100 ms a handler module took to import, which
alone broke the cold-start budget (<= 1.2x ``import boto3``, ``make bench``). The functions need only
HTTP API (payload 2.0) routing by method and path, one JSON error mapping and JSON responses, so this
module does that in the same shapes: ``app.get``/``app.post`` with ``<name>`` path parameters,
``app.current_event`` (body, headers, query string, raw event), ``app.lambda_context``, ``app.resolve``
and a ``Response`` with ``status_code``/``headers``/``body``. Powertools' Logger and Metrics stay.

Request bodies are validated into ``pay1st.models`` dataclasses rather than pydantic models: pydantic
is not in the Lambda runtime and its import alone would blow the cold-start budget.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from aws_lambda_powertools.logging import correlation_paths
from pay1st.errors import ValidationError

from pay1st_partner import runtime
from pay1st_partner.errors import DomainError, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from pay1st_partner.observability import count, logger
from pay1st_partner.request_fields import parse_json_object

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

APPLICATION_JSON = "application/json"
_Route = TypeVar("_Route", bound=Callable[..., Any])
# A <name> path parameter matches one path segment, as in Powertools (RFC 3986 unreserved and sub-delims).
_PARAMETER = re.compile(r"<(\w+)>")
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"


class Response:
    """An HTTP response: a JSON-typed body (dict or list) is serialised, Decimal as a string."""

    def __init__(
        self,
        status_code: int,
        content_type: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = int(status_code)
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})
        if content_type:
            self.headers.setdefault("Content-Type", content_type)


class _Headers(dict[str, str]):
    """Request headers, looked up whatever the case (HTTP API lowercases them; tests and tools may not)."""

    def __init__(self, headers: Mapping[str, str] | None) -> None:
        super().__init__({name.lower(): value for name, value in (headers or {}).items()})

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class HttpEvent:
    """The parts of an HTTP API (payload 2.0) event the handlers read."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.raw_event: dict[str, Any] = dict(event)
        self.headers = _Headers(event.get("headers"))

    @property
    def body(self) -> str | None:
        body: str | None = self.raw_event.get("body")
        return body

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self.raw_event.get("isBase64Encoded"))

    @property
    def query_string_parameters(self) -> dict[str, str]:
        params: dict[str, str] = self.raw_event.get("queryStringParameters") or {}
        return params

    def get_query_string_value(self, name: str, default_value: str | None = None) -> str | None:
        return self.query_string_parameters.get(name, default_value)

    @property
    def http_method(self) -> str:
        method: str = (self.raw_event.get("requestContext") or {}).get("http", {}).get("method", "")
        return method.upper()

    @property
    def path(self) -> str:
        """``rawPath`` without the stage prefix (a named stage's URL carries it; ``$default`` does not)."""
        path: str = self.raw_event.get("rawPath") or "/"
        stage = (self.raw_event.get("requestContext") or {}).get("stage", "$default")
        if stage and stage != "$default" and path.startswith(f"/{stage}"):
            path = path[len(stage) + 1 :] or "/"
        return path


class HttpResolver:
    """Routes an HTTP API event to the function registered for its method and path."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = []
        self._current: HttpEvent | None = None
        self._context: LambdaContext | None = None

    def route(self, rule: str, method: str) -> Callable[[_Route], _Route]:
        pattern = re.compile("^" + _PARAMETER.sub(lambda m: f"(?P<{m.group(1)}>{_SEGMENT})", rule) + "$")

        def register(function: _Route) -> _Route:
            self._routes.append((method.upper(), pattern, function))
            return function

        return register

    def get(self, rule: str) -> Callable[[_Route], _Route]:
        return self.route(rule, "GET")

    def post(self, rule: str) -> Callable[[_Route], _Route]:
        return self.route(rule, "POST")

    @property
    def current_event(self) -> HttpEvent:
        if self._current is None:
            raise RuntimeError("no request is being handled")
        return self._current

    @property
    def lambda_context(self) -> LambdaContext:
        if self._context is None:
            raise RuntimeError("no request is being handled")
        return self._context

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The HTTP API response for ``event``: the route's answer, or the error mapping's."""
        self._current, self._context = HttpEvent(event), context
        try:
            answer = self._dispatch(self._current)
        except Exception as exc:  # noqa: BLE001 - every error becomes a JSON answer (see the module doc)
            answer = _error_answer(exc)
        finally:
            self._current = self._context = None
        return _http_api_response(answer)

    def _dispatch(self, event: HttpEvent) -> Any:
        method, path = event.http_method, event.path
        for route_method, pattern, function in self._routes:
            if route_method == method and (match := pattern.match(path)):
                return function(**match.groupdict())
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "No such route.")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _http_api_response(answer: Any) -> dict[str, Any]:
    """The payload 2.0 response dict of a route's :class:`Response` (or of a dict: 200 with it as JSON)."""
    if isinstance(answer, dict):
        answer = response(HTTPStatus.OK, answer)
    headers = dict(answer.headers)
    body = answer.body
    content_type = headers.get("Content-Type", "")
    if body is not None and not isinstance(body, str | bytes) and content_type.startswith(APPLICATION_JSON):
        body = json.dumps(body, separators=(",", ":"), default=_json_default)
    encoded = isinstance(body, bytes)
    if encoded:
        body = base64.b64encode(body).decode("ascii")
    return {
        "statusCode": int(answer.status_code),
        "body": body,
        "isBase64Encoded": encoded,
        "headers": headers,
        "cookies": [],
    }


def _error_answer(exc: Exception) -> Response:
    if isinstance(exc, DomainError):
        return _domain_error(exc)
    if isinstance(exc, ValidationError):
        return _validation_error(exc)
    return _unexpected(exc)


# Responses may carry a checkout link with an access token in it: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}
# Create and fulfilment bodies are a few KiB at most; the webhook sets a limit of its own.
DEFAULT_MAX_BODY_BYTES = 32 * 1024


def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=APPLICATION_JSON,
        body=body,
        headers={**_NO_STORE, **(headers or {})},
    )


def error_response(status: int, code: str, message: str) -> Response:
    return response(status, {"code": code, "message": message})


def _domain_error(exc: DomainError) -> Response:
    if exc.http_status >= 500:
        logger.warning("request failed", extra={"code": exc.code, "status": exc.http_status})
    else:
        logger.info("request rejected", extra={"code": exc.code, "status": exc.http_status})
    return error_response(exc.http_status, exc.code, exc.message)


def _validation_error(exc: ValidationError) -> Response:
    logger.info("request rejected", extra={"code": "invalid_request", "field": exc.field})
    return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", str(exc))


def _unexpected(exc: Exception) -> Response:
    # The traceback goes to the log (this codebase keeps secrets out of exception messages);
    # the caller sees only a stable code.
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Internal error.")


def make_resolver() -> HttpResolver:
    """An HTTP API (payload 2.0) resolver with the bundle's error mapping."""
    return HttpResolver()


def raw_body(app: HttpResolver, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """The request body as the exact bytes received (base64 undone), size-limited."""
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        # Cheap pre-check before decoding: base64 is 4/3 the size of what it carries.
        if len(body) > (max_bytes * 4) // 3 + 4:
            raise PayloadTooLarge()
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("The request body is not valid base64.", code="invalid_body") from None
    else:
        data = body.encode("utf-8")
    if len(data) > max_bytes:
        raise PayloadTooLarge()
    return data


def raw_webhook_body(app: HttpResolver, max_bytes: int) -> bytes:
    """The exact bytes the gateway sent (what the signature covers), size-limited; rejections counted.

    No media type is required (the contract names none for webhooks), but a declared charset other than
    UTF-8 is 415: JSON is UTF-8 (RFC 8259), and bytes read as another charset are not what was signed.
    """
    try:
        require_utf8(app.current_event.headers.get("content-type"))
        return raw_body(app, max_bytes)
    except UnsupportedMediaType:
        count("WebhookRejected", reason="unsupported_media_type")
        raise
    except PayloadTooLarge:
        count("WebhookRejected", reason="payload_too_large")
        raise
    except InvalidRequest as exc:
        count("WebhookRejected", reason=exc.code)
        raise


def declared_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type, lower case and unquoted; None when there is none."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def require_utf8(content_type: str | None) -> None:
    """415 ``unsupported_media_type`` for a declared charset other than UTF-8 (JSON is UTF-8, RFC 8259):
    a body labelled UTF-16 but parsed as UTF-8 would be read as something its sender did not write."""
    charset = declared_charset(content_type)
    if charset is not None and charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"The request body must be JSON in UTF-8: charset={charset} is not accepted (send "
            "Content-Type: application/json or application/json; charset=utf-8)."
        )


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` (any case), with or without parameters such as ``charset=utf-8``.

    A missing Content-Type is not JSON: every client that sends a body can say what it is, and a body
    sent without one (or as a form, curl's default for ``-d``) is a mistake better caught on the first call.
    """
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def require_json_content_type(app: HttpResolver) -> None:
    """415 ``unsupported_media_type`` unless the request declares a JSON body."""
    content_type = app.current_event.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType()
    require_utf8(content_type)


def json_body(app: HttpResolver, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object: 415 when not declared JSON, 413 when too large, 400
    ``invalid_json`` when not an object."""
    require_json_content_type(app)
    data = raw_body(app, max_bytes)
    if not data.strip():
        raise InvalidRequest("A JSON request body is required.", code="invalid_json")
    return parse_json_object(data)


def http_handler(app: HttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of an HTTP API function, logging with the request's correlation id."""
    return runtime.lambda_entry_point(app.resolve, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)


class _Created(Protocol):
    @property
    def created(self) -> bool: ...

    def to_body(self) -> dict[str, Any]: ...


def created_response(result: _Created) -> Response:
    """201 with the resource; a repeat answers like the original, flagged the way Stripe flags replays."""
    return response(201, result.to_body(), {} if result.created else {"Idempotent-Replayed": "true"})


def request_base_url(app: HttpResolver) -> str:
    """Our public base URL (callbacks, webhooks) for the request being answered (``callbacks.public_base_url``)."""
    from pay1st_partner.payments.callbacks import public_base_url

    return public_base_url(runtime.settings(), app.current_event.raw_event.get("requestContext") or {})
