"""The Pay1st gateway client: one method per gateway operation (contract §2, §3, §6 to §9, §12).

One ``urllib3.PoolManager`` per client; create the client at module level in a Lambda so the pool
(and the in-memory token) survive across invocations. The transport sends and returns
status/headers/body; the one retry loop (:meth:`Pay1stClient._send`) asks the pure policy in
:mod:`pay1st.retry` what to do; HTTP errors are mapped to exceptions in one place
(:func:`pay1st.errors.error_for_status`).

Nothing secret is logged: not the credentials, tokens, signatures, or checkout links. Errors are logged
with the operation, HTTP status, the gateway's ``errorCode`` and ``sessionId``.
"""

from __future__ import annotations

import base64
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    EmptyPoolError,
    HTTPError,
    LocationValueError,
)

from pay1st import _json
from pay1st.checkout import build_checkout_url
from pay1st.errors import (
    OutcomeUnknownError,
    Pay1stAPIError,
    Pay1stConnectionError,
    UnexpectedResponseError,
    ValidationError,
    error_for_status,
)
from pay1st.iso import is_country_code
from pay1st.models import (
    CreatedPayment,
    FulfilmentItem,
    PaymentDetails,
    PaymentMethods,
    PaymentRequest,
    fulfilment_json_bytes,
)
from pay1st.retry import (
    NOT_SENT,
    SENT,
    Failure,
    RandomSource,
    backoff_delay,
    can_wait,
    decide,
    remaining,
)
from pay1st.signing import format_timestamp, sign
from pay1st.tokens import InMemoryTokenStore, Token, TokenManager, TokenStore

__all__ = [
    "AUTH_CONTENT_TYPE",
    "CHANNEL_CONTENT_TYPE",
    "PAYMENT_CONTENT_TYPE",
    "ClientConfig",
    "Credentials",
    "Pay1stClient",
]

logger = logging.getLogger("pay1st")

AUTH_CONTENT_TYPE = "application/vnd.carry1st.payments.partnerauthentication+json"
CHANNEL_CONTENT_TYPE = "application/vnd.carry1st.payments.paymentchannel+json"
PAYMENT_CONTENT_TYPE = "application/vnd.carry1st.payments.payment+json"

TOKEN_PATH = "/api/pay1st/auth/token"  # noqa: S105 - a URL path, not a secret
REFRESH_PATH = "/api/pay1st/auth/refresh"
METHODS_PATH = "/api/pay1st/payments/methods"
CREATE_PATH = "/api/pay1st/payments/create"
STATUS_PATH = "/api/pay1st/payments"
FULFILMENT_PATH = "/api/pay1st/payments/fulfilments"

USER_AGENT = "pay1st-partner-layer/1 (+urllib3)"
_ROLE_BODY = b'{"role":"API_USER"}'
_REDACTED = b"[redacted]"
# Anything shaped like an X-SIGNATURE (64 hex digits) is redacted from gateway error bodies too.
_SIGNATURE_LIKE = re.compile(rb"[0-9a-fA-F]{64}")
_T = TypeVar("_T")


@dataclass(frozen=True, repr=False)
class Credentials:
    """API key + secret (token endpoint only) and the Signing Key. The repr shows none of them."""

    api_key: str
    api_secret: str
    signing_key: str

    def __repr__(self) -> str:
        return "Credentials(api_key=<hidden>, api_secret=<hidden>, signing_key=<hidden>)"

    def basic_authorization(self) -> str:
        raw = f"{self.api_key}:{self.api_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def secret_values(self) -> tuple[str, ...]:
        return (
            self.api_key,
            self.api_secret,
            self.signing_key,
            self.basic_authorization().removeprefix("Basic "),
        )


@dataclass(frozen=True)
class ClientConfig:
    """Where the gateway is and how patient to be. ``token_*`` follow the contract's 5-minute window (§3)."""

    base_url: str
    pay_url: str
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 4
    backoff_base: float = 0.2
    backoff_cap: float = 3.0
    token_lifetime: float = 300.0
    token_refresh_margin: float = 60.0
    token_lock_lease: float = 10.0
    pool_maxsize: int = 10

    def __post_init__(self) -> None:
        for name in ("base_url", "pay_url"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL")
            object.__setattr__(self, name, value.rstrip("/"))
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff values must not be negative")


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    # An earlier attempt of this call was answered with a 5xx (for create: it may have been processed).
    after_server_error: bool = False


def _classify(exc: HTTPError) -> Failure:
    """Did the request possibly reach the gateway? Only failures before sending are NOT_SENT.

    A TLS failure or a timeout during the handshake is classified SENT (urllib3 cannot tell us which
    phase failed); for create that errs on the side of "outcome unknown", never of a duplicate payment.
    """
    if isinstance(exc, ConnectTimeoutError | EmptyPoolError | ClosedPoolError | LocationValueError):
        return NOT_SENT  # ConnectTimeoutError covers NewConnectionError and NameResolutionError
    return SENT


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: ignore, the backoff applies


def _token_values(token: Token | None) -> tuple[str, ...]:
    return () if token is None else (token.access_token, token.refresh_token)


class Pay1stClient:
    """Client for the Pay1st gateway. Thread-safe; reuse one instance per process.

    ``deadline`` arguments are absolute ``time.monotonic()`` values (see :func:`pay1st.retry.deadline_after`):
    no attempt, backoff sleep or token wait runs past them.
    """

    def __init__(
        self,
        config: ClientConfig,
        credentials: Credentials,
        token_store: TokenStore | None = None,
        *,
        http: urllib3.PoolManager | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: RandomSource | None = None,
    ) -> None:
        self._config = config
        self._credentials = credentials
        # retries=False: the retry loop below is ours, not urllib3's Retry, because it must classify
        # failures as sent/not-sent for create, honour the Lambda deadline while sleeping, and log
        # sessionIds; urllib3's Retry sleeps with time.sleep and knows no deadline.
        self._http = http or urllib3.PoolManager(maxsize=config.pool_maxsize, block=False, retries=False)
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.tokens = TokenManager(
            token_store if token_store is not None else InMemoryTokenStore(clock=clock),
            self,
            lifetime=config.token_lifetime,
            refresh_margin=config.token_refresh_margin,
            clock=clock,
            sleep=sleep,
            monotonic=monotonic,
            lease_seconds=config.token_lock_lease,
        )

    def __repr__(self) -> str:
        return f"Pay1stClient(base_url={self._config.base_url!r})"

    @property
    def config(self) -> ClientConfig:
        return self._config

    def close(self) -> None:
        self._http.clear()

    # --- §2, §3 tokens ------------------------------------------------------------------------------

    def generate_token(self, *, deadline: float | None = None) -> Token:
        """§2: a new access token (Basic auth with the API key and secret)."""
        headers = {
            "Content-Type": AUTH_CONTENT_TYPE,
            "Authorization": self._credentials.basic_authorization(),
        }
        return self._token_call("generate_token", TOKEN_PATH, headers, _ROLE_BODY, deadline)

    def refresh_token(self, refresh_token: str, *, deadline: float | None = None) -> Token:
        """§3: extend a token's lifetime. Basic auth is sent here too: the contract lists only the
        content types, and the gateway ignores an Authorization it does not need, whereas a missing
        one would make every refresh fail over to a new token."""
        headers = {
            "Content-Type": AUTH_CONTENT_TYPE,
            "Accept": AUTH_CONTENT_TYPE,
            "Authorization": self._credentials.basic_authorization(),
        }
        body = _json.dumps({"role": "API_USER", "refreshToken": refresh_token})
        return self._token_call("refresh_token", REFRESH_PATH, headers, body, deadline, secret=refresh_token)

    def _token_call(
        self,
        op: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        deadline: float | None,
        secret: str = "",
    ) -> Token:
        issued_at = self._clock()  # before sending: the gateway's creation time is no earlier than this
        response = self._send(op, "POST", self._config.base_url + path, lambda: headers, body, deadline)
        if response.status >= 400:
            raise self._api_error(op, response, (secret,))
        try:
            data = _json.loads(response.body)
            access, refresh = data["accessToken"], data["refreshToken"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
            access = refresh = None
        if not isinstance(access, str) or not access or not isinstance(refresh, str):
            raise UnexpectedResponseError(
                f"{op}: response has no accessToken/refreshToken", status=response.status
            )
        return Token(access, refresh, issued_at)

    # --- §6 list payment methods --------------------------------------------------------------------

    def list_payment_methods(self, country_code: str, *, deadline: float | None = None) -> PaymentMethods:
        if not is_country_code(country_code):
            raise ValidationError("countryCode", "must be an ISO-3166 alpha-2 country code")
        url = f"{self._config.base_url}{METHODS_PATH}?{urlencode({'countryCode': country_code})}"
        response = self._authed("list_payment_methods", "GET", url, CHANNEL_CONTENT_TYPE, None, deadline)
        return self._parse("list_payment_methods", response, PaymentMethods.from_json)

    # --- §7 create payment --------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest, *, deadline: float | None = None) -> CreatedPayment:
        """§7. Raises :class:`OutcomeUnknownError` when the payment may or may not exist (never a clean
        failure in that case): query it or retry later with the SAME partnerReference."""
        body = request.to_json_bytes()  # serialized once: these bytes are signed and sent
        url = self._config.base_url + CREATE_PATH
        response = self._authed(
            "create_payment", "POST", url, PAYMENT_CONTENT_TYPE, body, deadline, create=True
        )
        try:
            created = CreatedPayment.from_json(response.body)
        except ValidationError as exc:
            # 2xx means the gateway created it; we just cannot read the answer.
            raise OutcomeUnknownError(
                f"create_payment: HTTP {response.status} but the response is unreadable ({exc.field})",
                status=response.status,
            ) from None
        if created.partner_reference != request.partner_reference:
            raise OutcomeUnknownError(
                "create_payment: response is for a different partnerReference", status=response.status
            )
        return created

    # --- §9 query payment status --------------------------------------------------------------------

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails:
        if not reference:
            raise ValidationError("reference", "is required")
        url = f"{self._config.base_url}{STATUS_PATH}?{urlencode({'reference': reference})}"
        response = self._authed("get_payment", "GET", url, PAYMENT_CONTENT_TYPE, None, deadline)
        return self._parse("get_payment", response, PaymentDetails.from_json)

    # --- §12 fulfilment completion ------------------------------------------------------------------

    def notify_fulfilment(
        self, reference: str, items: Sequence[FulfilmentItem], *, deadline: float | None = None
    ) -> None:
        """§12. Safe to repeat (a queue consumer retries it), so every transport failure is retried."""
        body = fulfilment_json_bytes(reference, items)
        url = self._config.base_url + FULFILMENT_PATH
        self._authed("notify_fulfilment", "POST", url, PAYMENT_CONTENT_TYPE, body, deadline)

    # --- §8 checkout link ---------------------------------------------------------------------------

    def checkout_url(
        self, reference: str, channel_id: str | int | None = None, *, deadline: float | None = None
    ) -> str:
        """The hosted-page link with the current access token in it. Never log or store the result."""
        token = self.tokens.get(deadline=deadline)
        return build_checkout_url(self._config.pay_url, reference, token.access_token, channel_id)

    # --- plumbing -----------------------------------------------------------------------------------

    def _authed(
        self,
        op: str,
        method: str,
        url: str,
        content_type: str,
        body: bytes | None,
        deadline: float | None,
        *,
        create: bool = False,
    ) -> _Response:
        """Send with ``AccessToken`` (+ signature when there is a body); on 401 re-authenticate once, retry once."""
        token = self.tokens.get(deadline=deadline)
        response = self._send(
            op, method, url, self._header_factory(token, content_type, body), body, deadline, create, token
        )
        if response.status == 401:
            logger.warning(
                "pay1st %s: HTTP 401, re-authenticating once (%s)", op, self._error_fields(response)
            )
            self.tokens.invalidate(token)
            token = self.tokens.get(deadline=deadline)
            response = self._send(
                op,
                method,
                url,
                self._header_factory(token, content_type, body),
                body,
                deadline,
                create,
                token,
                after_server_error=response.after_server_error,
            )
        if response.status >= 400:
            raise self._api_error(op, response, _token_values(token))
        return response

    def _header_factory(
        self, token: Token, content_type: str, body: bytes | None
    ) -> Callable[[], dict[str, str]]:
        def headers() -> dict[str, str]:
            values = {"Content-Type": content_type, "AccessToken": f"Bearer {token.access_token}"}
            if body is not None:
                # A fresh timestamp per attempt; the body bytes never change between attempts.
                timestamp = format_timestamp(datetime.fromtimestamp(self._clock(), UTC))
                values["X-TIMESTAMP"] = timestamp
                values["X-SIGNATURE"] = sign(self._credentials.signing_key, timestamp, body)
            return values

        return headers

    def _send(
        self,
        op: str,
        method: str,
        url: str,
        headers: Callable[[], dict[str, str]],
        body: bytes | None,
        deadline: float | None,
        create: bool = False,
        token: Token | None = None,
        *,
        after_server_error: bool = False,
    ) -> _Response:
        """The one retry loop. Returns the final response (success or an error status for the caller to
        map), raises Pay1stConnectionError when every attempt failed in transport, OutcomeUnknownError for
        create when a retry could duplicate the payment or a refusal may be caused by an earlier attempt.
        ``after_server_error``: an earlier call for the same request (before a re-authentication) saw a 5xx."""
        config = self._config
        attempt = 0
        last_response: _Response | None = None
        last_error: HTTPError | None = None
        while True:
            attempt += 1
            left = remaining(deadline, self._monotonic())
            if left is not None and left <= 0:
                break
            timeout = self._attempt_timeout(left)
            try:
                raw = self._http.request(
                    method,
                    url,
                    body=body,
                    headers={"User-Agent": USER_AGENT, **headers()},
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                )
            except HTTPError as exc:
                failure = _classify(exc)
                if decide(failure=failure, create=create) == "unknown":
                    logger.error(
                        "pay1st %s: outcome unknown after %s (attempt %d)", op, type(exc).__name__, attempt
                    )
                    raise OutcomeUnknownError(
                        f"{op}: no answer after the request was sent ({type(exc).__name__}); outcome unknown"
                    ) from None
                last_error, last_response = exc, None
                logger.warning("pay1st %s: %s on attempt %d", op, type(exc).__name__, attempt)
                retry_after = None
            else:
                response = _Response(raw.status, raw.headers, raw.data, after_server_error)
                decision = decide(
                    status=response.status, create=create, after_server_error=after_server_error
                )
                if decision in ("done", "fail"):
                    return response
                if decision == "unknown":
                    fields = self._error_fields(response)
                    logger.error("pay1st %s: HTTP %d, outcome unknown (%s)", op, response.status, fields)
                    cause = error_for_status(
                        response.status, self._scrub(response.body, _token_values(token))
                    )
                    why = "after an earlier 5xx" if response.status < 500 else "after the request was sent"
                    raise OutcomeUnknownError(
                        f"{op}: HTTP {response.status} {why}; outcome unknown",
                        status=response.status,
                        error_code=cause.error_code,
                        session_id=cause.session_id,
                    ) from cause
                after_server_error = after_server_error or response.status >= 500
                last_error, last_response = None, response
                logger.warning(
                    "pay1st %s: HTTP %d on attempt %d (%s)",
                    op,
                    response.status,
                    attempt,
                    self._error_fields(response),
                )
                retry_after = _retry_after(response.headers)

            if attempt >= config.max_attempts:
                break
            delay = backoff_delay(attempt, config.backoff_base, config.backoff_cap, self._rng)
            if retry_after is not None:
                delay = max(delay, min(retry_after, config.backoff_cap))
            if not can_wait(
                delay, now=self._monotonic(), deadline=deadline, attempt_budget=config.connect_timeout
            ):
                logger.warning("pay1st %s: no time left for another attempt; giving up", op)
                break
            self._sleep(delay)

        if last_response is not None:
            return last_response
        if last_error is not None:
            raise Pay1stConnectionError(
                f"{op}: could not reach the gateway after {attempt} attempt(s) ({type(last_error).__name__})"
            ) from None
        raise Pay1stConnectionError(f"{op}: deadline reached before the request could be sent")

    def _attempt_timeout(self, left: float | None) -> urllib3.Timeout:
        """Connect and read timeouts of one attempt; with a deadline, ``total`` also bounds connect + read
        together, so an attempt that spends its time connecting cannot then read past the deadline."""
        config = self._config
        if left is None:
            return urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout)
        return urllib3.Timeout(
            total=left, connect=min(config.connect_timeout, left), read=min(config.read_timeout, left)
        )

    def _secrets(self, extra: Sequence[str]) -> list[bytes]:
        values = [*self._credentials.secret_values(), *extra]
        return [value.encode() for value in values if value and len(value) >= 4]

    def _scrub(self, body: bytes, extra: Sequence[str] = ()) -> bytes:
        # The gateway's error bodies end up in exception messages; make sure none of our secrets can.
        for secret in self._secrets(extra):
            body = body.replace(secret, _REDACTED)
        return _SIGNATURE_LIKE.sub(_REDACTED, body)

    def _api_error(self, op: str, response: _Response, extra_secrets: Sequence[str] = ()) -> Pay1stAPIError:
        error = error_for_status(response.status, self._scrub(response.body, extra_secrets))
        logger.warning(
            "pay1st %s failed: HTTP %d errorCode=%s sessionId=%s",
            op,
            error.status,
            error.error_code,
            error.session_id,
        )
        return error

    @staticmethod
    def _error_fields(response: _Response) -> str:
        error = error_for_status(response.status, response.body)
        return f"errorCode={error.error_code} sessionId={error.session_id}"

    @staticmethod
    def _parse(op: str, response: _Response, parse: Callable[[bytes], _T]) -> _T:
        try:
            return parse(response.body)
        except ValidationError as exc:
            raise UnexpectedResponseError(
                f"{op}: unexpected response shape ({exc.field})", status=response.status
            ) from None
