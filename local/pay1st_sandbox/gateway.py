"""The gateway API (§2, §3, §6, §7, §9, §12), checked as strictly as the contract describes it.

Order of checks on every route: Content-Type (405), credentials or access token (401), signature and
timestamp (400), body (400), business rules (400). The router has already answered 404/405 for
unknown paths and methods, and the app has applied injected faults.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from . import catalogue, jsonutil
from .errors import GatewayError, bad_request, not_allowed, unauthorized
from .iso_codes import COUNTRIES, CURRENCY_DIGITS, fits_minor_unit
from .payments import CALLBACK_FIELDS
from .signing import parse_timestamp, signature_matches
from .state import NewPayment, SandboxState
from .tokens import AccessToken

AUTH_MEDIA_TYPE = "application/vnd.carry1st.payments.partnerauthentication+json"
CHANNEL_MEDIA_TYPE = "application/vnd.carry1st.payments.paymentchannel+json"
PAYMENT_MEDIA_TYPE = "application/vnd.carry1st.payments.payment+json"
API_USER = "API_USER"

TOKEN_PATH = "/api/pay1st/auth/token"  # noqa: S105 - a path, not a password
REFRESH_PATH = "/api/pay1st/auth/refresh"
METHODS_PATH = "/api/pay1st/payments/methods"
CREATE_PATH = "/api/pay1st/payments/create"
STATUS_PATH = "/api/pay1st/payments"
FULFILMENT_PATH = "/api/pay1st/payments/fulfilments"

_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")
MAX_REFERENCE_LENGTH = 128
MAX_PRODUCTS = 100


def json_response(status: int, document: object, media_type: str = "application/json") -> Response:
    return Response(jsonutil.dumps(document), status=status, content_type=media_type)


class GatewayApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config

    def routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        """(path, method, handler) for the router."""
        return [
            (TOKEN_PATH, "POST", self.generate_token),
            (REFRESH_PATH, "POST", self.refresh_token),
            (METHODS_PATH, "GET", self.payment_methods),
            (CREATE_PATH, "POST", self.create_payment),
            (STATUS_PATH, "GET", self.payment_status),
            (FULFILMENT_PATH, "POST", self.fulfilment),
        ]

    # -- §2, §3 --

    def generate_token(self, request: Request) -> Response:
        _require_content_type(request, AUTH_MEDIA_TYPE)
        self._require_basic_credentials(request, required=True)
        if self.state.faults.current.token_forbidden:
            raise GatewayError(403, "FORBIDDEN", "These credentials are not permitted to use the API.")
        body = self._json_body(request)
        _require_api_user_role(body)
        access, refresh = self.state.tokens.issue_token()
        return json_response(
            200, {"role": API_USER, "accessToken": access, "refreshToken": refresh}, AUTH_MEDIA_TYPE
        )

    def refresh_token(self, request: Request) -> Response:
        _require_content_type(request, AUTH_MEDIA_TYPE)
        # §3: "Content-Type and Accept both" the authentication media type.
        if not any(value == AUTH_MEDIA_TYPE for value, quality in request.accept_mimetypes if quality > 0):
            raise not_allowed("UNSUPPORTED_ACCEPT", f"Accept must be {AUTH_MEDIA_TYPE}.")
        # The refresh call needs no Basic credentials, but wrong ones are still wrong.
        self._require_basic_credentials(request, required=False)
        body = self._json_body(request)
        _require_api_user_role(body)
        refresh = body.get("refreshToken")
        if not isinstance(refresh, str) or not refresh:
            raise bad_request("INVALID_REQUEST", "refreshToken is required.")
        access, refresh = self.state.tokens.refresh_token(refresh)
        return json_response(
            200, {"role": API_USER, "accessToken": access, "refreshToken": refresh}, AUTH_MEDIA_TYPE
        )

    # -- §6 --

    def payment_methods(self, request: Request) -> Response:
        _require_content_type(request, CHANNEL_MEDIA_TYPE)
        self._access_token(request)
        country = request.args.get("countryCode", "")
        if country not in COUNTRIES:
            raise bad_request("INVALID_REQUEST", "countryCode must be an ISO-3166 alpha-2 code.")
        return json_response(200, catalogue.payment_methods_document(country), CHANNEL_MEDIA_TYPE)

    # -- §7 --

    def create_payment(self, request: Request) -> Response:
        _require_content_type(request, PAYMENT_MEDIA_TYPE)
        token = self._access_token(request)
        raw = self._raw_body(request)
        self._verify_signature(request, token, raw)
        new = parse_payment_request(_json_object(raw))
        payment = self.state.create_payment(new)
        # Fault "timeout after processing": the payment exists, the answer comes too late.
        self.state.pause(self.state.faults.take_create_stall())
        return json_response(201, payment.created_document(self.state.transaction_ids), PAYMENT_MEDIA_TYPE)

    # -- §9 --

    def payment_status(self, request: Request) -> Response:
        _require_content_type(request, PAYMENT_MEDIA_TYPE)
        self._access_token(request)
        reference = request.args.get("reference", "")
        if not reference:
            raise bad_request("INVALID_REQUEST", "reference is required.")
        payment = self.state.require_payment(reference)
        document = payment.status_document(self.config.partner_id, self.state.transaction_ids)
        return json_response(200, document, PAYMENT_MEDIA_TYPE)

    # -- §12 --

    def fulfilment(self, request: Request) -> Response:
        _require_content_type(request, PAYMENT_MEDIA_TYPE)
        token = self._access_token(request)
        raw = self._raw_body(request)
        signed_at = self._verify_signature(request, token, raw)
        reference, products = parse_fulfilment(_json_object(raw))
        self.state.record_fulfilment(reference, products, signed_at)
        return Response(b"", status=200)

    # -- shared checks --

    def _require_basic_credentials(self, request: Request, *, required: bool) -> None:
        auth = request.authorization
        if auth is None:
            if required or "Authorization" in request.headers:
                raise unauthorized(
                    "INVALID_CREDENTIALS", "Basic credentials (API key and secret) are required."
                )
            return
        username, password = auth.parameters.get("username"), auth.parameters.get("password")
        valid = (
            auth.type == "basic"
            and username is not None
            and password is not None
            # Both compared, always, so the time taken does not tell which one was wrong.
            and hmac.compare_digest(username.encode(), self.config.api_key.encode())
            & hmac.compare_digest(password.encode(), self.config.api_secret.encode())
        )
        if not valid:
            raise unauthorized("INVALID_CREDENTIALS", "The API key or secret is wrong.")

    def _access_token(self, request: Request) -> AccessToken:
        header = request.headers.get("AccessToken", "")
        if not header:
            raise unauthorized("MISSING_TOKEN", "The AccessToken header is required.")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise unauthorized("INVALID_TOKEN", "The AccessToken header must be 'Bearer <accessToken>'.")
        return self.state.tokens.check_access_token(value.strip())

    def _verify_signature(self, request: Request, token: AccessToken, raw: bytes) -> str:
        signature = request.headers.get("X-SIGNATURE")
        timestamp = request.headers.get("X-TIMESTAMP")
        if not signature or not timestamp:
            raise bad_request("MISSING_SIGNATURE", "X-SIGNATURE and X-TIMESTAMP are required.")
        moment = parse_timestamp(timestamp)
        if moment is None:
            raise bad_request("INVALID_TIMESTAMP", "X-TIMESTAMP must be an ISO-8601 UTC timestamp.")
        if not signature_matches(self.config.signing_key, timestamp, raw, signature):
            raise bad_request("INVALID_SIGNATURE", "The signature does not match the request.")
        if abs(moment.timestamp() - token.created_at) > self.config.signature_window:
            raise bad_request(
                "TIMESTAMP_OUT_OF_WINDOW",
                "X-TIMESTAMP is not within 5 minutes of the access token's creation.",
            )
        return timestamp

    def _raw_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise bad_request("PAYLOAD_TOO_LARGE", f"The body must not exceed {limit} bytes.")
        raw = request.get_data(cache=True)
        if len(raw) > limit:
            raise bad_request("PAYLOAD_TOO_LARGE", f"The body must not exceed {limit} bytes.")
        return raw

    def _json_body(self, request: Request) -> dict[str, Any]:
        return _json_object(self._raw_body(request))


def _require_content_type(request: Request, media_type: str) -> None:
    if request.mimetype != media_type:
        raise not_allowed("UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be {media_type}.")


def _require_api_user_role(body: dict[str, Any]) -> None:
    role = body.get("role")
    if role is None:
        raise bad_request("INVALID_REQUEST", "role is required.")
    if role != API_USER:
        raise unauthorized("INVALID_ROLE", "role must be API_USER.")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = jsonutil.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        raise bad_request("INVALID_JSON", "The body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise bad_request("INVALID_JSON", "The body must be a JSON object.")
    return document


# -- body validation --


def _invalid(field: str, problem: str) -> GatewayError:
    return bad_request("INVALID_REQUEST", f"{field}: {problem}")


def _text(document: dict[str, Any], field: str, *, path: str = "", max_length: int = 255) -> str:
    value = document.get(field)
    name = f"{path}{field}"
    if not isinstance(value, str) or not value.strip():
        raise _invalid(name, "a non-empty string is required")
    if len(value) > max_length or not _PRINTABLE.match(value):
        raise _invalid(name, f"at most {max_length} printable characters")
    return value


def _code(document: dict[str, Any], field: str, known: Collection[str], what: str, path: str = "") -> str:
    value = document.get(field)
    if not isinstance(value, str) or value not in known:
        raise _invalid(f"{path}{field}", f"must be {what}")
    return value


def _in_minor_units(number: Decimal, currency: str, name: str) -> None:
    if not fits_minor_unit(number, currency):
        raise _invalid(name, f"at most {CURRENCY_DIGITS[currency]} decimal places in {currency}")


def _decimal(document: dict[str, Any], field: str, *, path: str = "", positive: bool) -> Decimal:
    value = document.get(field)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _invalid(f"{path}{field}", "a number is required")
    number = Decimal(value)
    if number < 0 or (positive and number == 0):
        raise _invalid(f"{path}{field}", "must be greater than zero" if positive else "must not be negative")
    return number


def _quantity(document: dict[str, Any], field: str, path: str) -> int:
    value = document.get(field)
    # parse_float=Decimal keeps 1.0 a Decimal, so only a JSON integer passes.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(f"{path}{field}", "a positive integer is required")
    return value


def _url(document: dict[str, Any], field: str) -> str | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(field, "must be a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid(field, "must be an absolute http(s) URL")
    return value


def _list(document: dict[str, Any], field: str, *, allow_empty: bool) -> list[dict[str, Any]]:
    value = document.get(field)
    if not isinstance(value, list) or (not value and not allow_empty):
        raise _invalid(field, "a list is required" if allow_empty else "a non-empty list is required")
    if len(value) > MAX_PRODUCTS:
        raise _invalid(field, f"at most {MAX_PRODUCTS} items")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _invalid(f"{field}[{index}]", "must be an object")
    return value


def parse_payment_request(body: dict[str, Any]) -> NewPayment:
    """Validate a §7 body: every required field present and well-formed."""
    amount = _decimal(body, "amount", positive=True)
    country = _code(body, "countryCode", COUNTRIES, "an ISO-3166 alpha-2 code")
    currency = _code(body, "currencyCode", CURRENCY_DIGITS, "an ISO-4217 code")
    _in_minor_units(amount, currency, "amount")
    partner_reference = _text(body, "partnerReference", max_length=MAX_REFERENCE_LENGTH)
    products = _list(body, "products", allow_empty=False)
    for index, product in enumerate(products):
        path = f"products[{index}]."
        _text(product, "title", path=path)
        _text(product, "sku", path=path)
        price = _decimal(product, "price", path=path, positive=False)
        _quantity(product, "quantity", path)
        if _code(product, "currencyCode", CURRENCY_DIGITS, "an ISO-4217 code", path) != currency:
            raise _invalid(f"{path}currencyCode", "must equal the payment's currencyCode")
        _in_minor_units(price, currency, f"{path}price")
    metadata = _list(body, "metadata", allow_empty=True)
    for index, item in enumerate(metadata):
        _text(item, "key", path=f"metadata[{index}].")
        if not isinstance(item.get("value"), str):
            raise _invalid(f"metadata[{index}].value", "a string is required")
    overrides = {
        outcome: _url(body, request_field) for outcome, (request_field, _) in CALLBACK_FIELDS.items()
    }
    return NewPayment(
        amount=amount,
        country_code=country,
        currency_code=currency,
        partner_reference=partner_reference,
        products=products,
        request=body,
        webhook_url=_url(body, "webhookUrl"),
        callback_overrides=overrides,
    )


def parse_fulfilment(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Validate a §12 body."""
    reference = _text(body, "reference")
    products = _list(body, "products", allow_empty=False)
    for index, item in enumerate(products):
        path = f"products[{index}]."
        _text(item, "sku", path=path)
        _text(item, "fulfilmentStatus", path=path)
        _quantity(item, "quantity", path)
        time_text = item.get("fulfilmentTime")
        if not isinstance(time_text, str) or parse_timestamp(time_text) is None:
            raise _invalid(f"{path}fulfilmentTime", "an ISO-8601 timestamp with a zone is required")
    return reference, products
