"""HTTP plumbing shared by the API handlers: one resolver factory mapping every error to JSON.

Every error answer is ``{"code": ..., "message": ...}`` with a stable code. Domain errors carry their
own status; a model's ``ValidationError`` is a 400 naming the field; anything unexpected is a 500
``internal_error`` with the details only in the log (no stack trace ever leaves the function).
Money in response bodies is a decimal *string* (Powertools' encoder writes ``Decimal`` that way),
so no amount is ever rounded through a float.

Request bodies are validated into ``pay1st.models`` dataclasses rather than pydantic models: pydantic
is not in the Lambda runtime and its import alone would blow the cold-start budget (≤ 1.3x boto3).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pay1st.errors import ValidationError

from pay1st_partner import runtime
from pay1st_partner.errors import DomainError, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from pay1st_partner.observability import count, logger
from pay1st_partner.request_fields import parse_json_object

# Responses may carry a checkout link with an access token in it: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}
# Create and fulfilment bodies are a few KiB at most; the webhook sets a limit of its own.
DEFAULT_MAX_BODY_BYTES = 32 * 1024


def response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={**_NO_STORE, **(headers or {})},
    )


def error_response(status: int, code: str, message: str) -> Response[Any]:
    return response(status, {"code": code, "message": message})


def _domain_error(exc: DomainError) -> Response[Any]:
    if exc.http_status >= 500:
        logger.warning("request failed", extra={"code": exc.code, "status": exc.http_status})
    else:
        logger.info("request rejected", extra={"code": exc.code, "status": exc.http_status})
    return error_response(exc.http_status, exc.code, exc.message)


def _validation_error(exc: ValidationError) -> Response[Any]:
    logger.info("request rejected", extra={"code": "invalid_request", "field": exc.field})
    return error_response(HTTPStatus.BAD_REQUEST, "invalid_request", str(exc))


def _not_found(_exc: NotFoundError) -> Response[Any]:
    return error_response(HTTPStatus.NOT_FOUND, "not_found", "No such route.")


def _unexpected(exc: Exception) -> Response[Any]:
    # The traceback goes to the log (this codebase keeps secrets out of exception messages);
    # the caller sees only a stable code.
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Internal error.")


def make_resolver() -> APIGatewayHttpResolver:
    """An HTTP API (payload 2.0) resolver with the bundle's error mapping registered."""
    # debug=False explicitly: POWERTOOLS_DEV would otherwise put tracebacks into responses.
    app = APIGatewayHttpResolver(debug=False)
    # Registered by call rather than as decorators: Powertools' decorator is untyped (mypy strict).
    app.exception_handler(DomainError)(_domain_error)
    app.exception_handler(ValidationError)(_validation_error)
    app.exception_handler(NotFoundError)(_not_found)
    app.exception_handler(Exception)(_unexpected)
    return app


def raw_body(app: APIGatewayHttpResolver, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
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


def raw_webhook_body(app: APIGatewayHttpResolver, max_bytes: int) -> bytes:
    """The exact bytes the gateway sent (what the signature covers), size-limited; rejections counted."""
    try:
        return raw_body(app, max_bytes)
    except PayloadTooLarge:
        count("WebhookRejected", reason="payload_too_large")
        raise
    except InvalidRequest as exc:
        count("WebhookRejected", reason=exc.code)
        raise


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` (any case), with or without parameters such as ``charset=utf-8``.

    A missing Content-Type is not JSON: every client that sends a body can say what it is, and a body
    sent without one (or as a form, curl's default for ``-d``) is a mistake better caught on the first call.
    """
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def require_json_content_type(app: APIGatewayHttpResolver) -> None:
    """415 ``unsupported_media_type`` unless the request declares a JSON body."""
    headers = app.current_event.headers or {}
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType()


def json_body(app: APIGatewayHttpResolver, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object: 415 when not declared JSON, 413 when too large, 400
    ``invalid_json`` when not an object."""
    require_json_content_type(app)
    data = raw_body(app, max_bytes)
    if not data.strip():
        raise InvalidRequest("A JSON request body is required.", code="invalid_json")
    return parse_json_object(data)


def http_handler(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of an HTTP API function, logging with the request's correlation id."""
    return runtime.lambda_entry_point(app.resolve, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
