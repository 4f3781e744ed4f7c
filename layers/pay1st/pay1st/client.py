"""The Pay1st gateway client: one thin method per gateway operation (contract §2, §3, §6 to §9, §12, §15).

One ``urllib3.PoolManager`` per client; create the client at module level in a Lambda so the pool
(and the in-memory token) survive across invocations.

Each public method validates its input, builds the body or query, calls :meth:`Pay1stClient._call` with
the operation's row of :mod:`pay1st.operations`, and parses the response model. The call path has one
place per concern: :mod:`pay1st.transport` sends; :mod:`pay1st.sending` is the one retry loop, asking
the pure policy in :mod:`pay1st.retry`; :mod:`pay1st.auth_headers` builds each attempt's headers
(authentication, the §4 signature); the re-authentication on a 401 is :meth:`Pay1stClient._send_with_token`;
:mod:`pay1st.redaction` scrubs secrets from error bodies; HTTP errors are mapped to exceptions in one
place (:func:`pay1st.errors.error_for_status`).

Nothing secret is logged: not the credentials, tokens, signatures, or checkout links. Errors are logged
with the operation, HTTP status, the gateway's ``errorCode`` and ``sessionId``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlencode

import urllib3

from pay1st import _json
from pay1st.auth_headers import header_factory
from pay1st.checkout import build_checkout_url
from pay1st.config import ClientConfig, Credentials
from pay1st.errors import (
    OutcomeUnknownError,
    Pay1stAPIError,
    UnexpectedResponseError,
    ValidationError,
    error_for_status,
)
from pay1st.iso import is_country_code
from pay1st.models import (
    CreatedPayment,
    CreatedRefund,
    FulfilmentItem,
    PaymentDetails,
    PaymentMethods,
    PaymentRequest,
    RefundRequest,
    fulfilment_json_bytes,
)
from pay1st.operations import (
    AUTH_CONTENT_TYPE,
    CHANNEL_CONTENT_TYPE,
    CREATE_PAYMENT,
    CREATE_REFUND,
    GENERATE_TOKEN,
    GET_PAYMENT,
    LIST_PAYMENT_METHODS,
    NOTIFY_FULFILMENT,
    PAYMENT_CONTENT_TYPE,
    REFRESH_TOKEN,
    Auth,
    Operation,
)
from pay1st.redaction import scrub
from pay1st.retry import RandomSource
from pay1st.sending import Result, RetryLoop, error_fields
from pay1st.tokens import InMemoryTokenStore, Token, TokenManager, TokenStore
from pay1st.transport import Response, Transport

__all__ = [
    "AUTH_CONTENT_TYPE",
    "CHANNEL_CONTENT_TYPE",
    "PAYMENT_CONTENT_TYPE",
    "ClientConfig",
    "Credentials",
    "Pay1stClient",
]

logger = logging.getLogger("pay1st")

_ROLE_BODY = b'{"role":"API_USER"}'
_T = TypeVar("_T")


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
        self._clock = clock
        # retries=False: the retry loop is ours (pay1st.sending says why), not urllib3's Retry.
        pool = http or urllib3.PoolManager(maxsize=config.pool_maxsize, block=False, retries=False)
        self._sender = RetryLoop(
            Transport(pool),
            sleep=sleep,
            monotonic=monotonic,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not cryptography
        )
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

    @property
    def _http(self) -> urllib3.PoolManager:
        """The connection pool (given as ``http=`` or made here)."""
        return self._sender.transport.pool

    def close(self) -> None:
        self._sender.transport.close()

    # --- §2, §3 tokens ------------------------------------------------------------------------------

    def generate_token(self, *, deadline: float | None = None) -> Token:
        """§2: a new access token (Basic auth with the API key and secret)."""
        return self._token(GENERATE_TOKEN, _ROLE_BODY, deadline)

    def refresh_token(self, refresh_token: str, *, deadline: float | None = None) -> Token:
        """§3: extend a token's lifetime (Basic auth is sent here too: see the row's comment)."""
        body = _json.dumps({"role": "API_USER", "refreshToken": refresh_token})
        return self._token(REFRESH_TOKEN, body, deadline, secrets=(refresh_token,))

    # --- §6 list payment methods --------------------------------------------------------------------

    def list_payment_methods(self, country_code: str, *, deadline: float | None = None) -> PaymentMethods:
        if not is_country_code(country_code):
            raise ValidationError("countryCode", "must be an ISO-3166 alpha-2 country code")
        response = self._call(LIST_PAYMENT_METHODS, query={"countryCode": country_code}, deadline=deadline)
        return self._parse(LIST_PAYMENT_METHODS, response, PaymentMethods.from_json)

    # --- §7 create payment --------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest, *, deadline: float | None = None) -> CreatedPayment:
        """§7. Raises :class:`OutcomeUnknownError` when the payment may or may not exist (never a clean
        failure in that case): query it or retry later with the SAME partnerReference."""
        body = request.to_json_bytes()  # serialized once: these bytes are signed and sent
        response = self._call(CREATE_PAYMENT, body=body, deadline=deadline)
        created = self._parse(CREATE_PAYMENT, response, CreatedPayment.from_json)
        if created.partner_reference != request.partner_reference:
            raise OutcomeUnknownError(
                "create_payment: response is for a different partnerReference", status=response.status
            )
        return created

    # --- §9 query payment status --------------------------------------------------------------------

    def get_payment(self, reference: str, *, deadline: float | None = None) -> PaymentDetails:
        if not reference:
            raise ValidationError("reference", "is required")
        response = self._call(GET_PAYMENT, query={"reference": reference}, deadline=deadline)
        return self._parse(GET_PAYMENT, response, PaymentDetails.from_json)

    # --- §12 fulfilment completion ------------------------------------------------------------------

    def notify_fulfilment(
        self, reference: str, items: Sequence[FulfilmentItem], *, deadline: float | None = None
    ) -> None:
        """§12. Safe to repeat (a queue consumer retries it), so every transport failure is retried."""
        self._call(NOTIFY_FULFILMENT, body=fulfilment_json_bytes(reference, items), deadline=deadline)

    # --- §15 refund request (beta) ------------------------------------------------------------------

    def create_refund(self, request: RefundRequest, *, deadline: float | None = None) -> CreatedRefund:
        """§15. Like :meth:`create_payment`, an unknown outcome raises :class:`OutcomeUnknownError`: repeat
        with the SAME partnerRefundReference (the gateway refuses a second refund under it)."""
        response = self._call(CREATE_REFUND, body=request.to_json_bytes(), deadline=deadline)
        created = self._parse(CREATE_REFUND, response, CreatedRefund.from_json)
        if created.partner_refund_reference != request.partner_refund_reference:
            raise OutcomeUnknownError(
                "create_refund: response is for a different partnerRefundReference", status=response.status
            )
        return created

    # --- §8 checkout link ---------------------------------------------------------------------------

    def checkout_url(
        self, reference: str, channel_id: str | int | None = None, *, deadline: float | None = None
    ) -> str:
        """The hosted-page link with the current access token in it. Never log or store the result."""
        token = self.tokens.get(deadline=deadline)
        return build_checkout_url(self._config.pay_url, reference, token.access_token, channel_id)

    # --- the one call path --------------------------------------------------------------------------

    def _call(
        self,
        operation: Operation,
        *,
        body: bytes | None = None,
        query: Mapping[str, str] | None = None,
        deadline: float | None = None,
        secrets: Sequence[str] = (),
    ) -> Response:
        """Send ``operation`` (retried as its row allows) and return the 2xx/3xx response; an HTTP error
        status is raised as the mapped error, scrubbed of our secrets and ``secrets`` (the call's own)."""
        url = self._config.base_url + operation.path
        if query:
            url += "?" + urlencode(query)
        if operation.auth is Auth.BASIC:
            result = self._send(operation, url, body, deadline, None, secrets)
        else:
            result, token = self._send_with_token(operation, url, body, deadline)
            secrets = (*secrets, *_token_values(token))
        if result.response.status >= 400:
            raise self._api_error(operation.name, result.response, secrets)
        return result.response

    def _send_with_token(
        self, operation: Operation, url: str, body: bytes | None, deadline: float | None
    ) -> tuple[Result, Token]:
        """§5 with the current access token; on a 401 re-authenticate once and retry once (§3 decision)."""
        token = self.tokens.get(deadline=deadline)
        result = self._send(operation, url, body, deadline, token)
        if result.response.status == 401:
            logger.warning(
                "pay1st %s: HTTP 401, re-authenticating once (%s)",
                operation.name,
                error_fields(result.response),
            )
            self.tokens.invalidate(token)
            token = self.tokens.get(deadline=deadline)
            result = self._send(
                operation, url, body, deadline, token, after_server_error=result.after_server_error
            )
        return result, token

    def _send(
        self,
        operation: Operation,
        url: str,
        body: bytes | None,
        deadline: float | None,
        token: Token | None,
        secrets: Sequence[str] = (),
        *,
        after_server_error: bool = False,
    ) -> Result:
        extra = (*secrets, *_token_values(token))
        return self._sender.send(
            operation,
            url,
            header_factory(operation, self._credentials, token, body, self._clock),
            body,
            config=self._config,
            deadline=deadline,
            scrub=lambda raw: self._scrub(raw, extra),
            after_server_error=after_server_error,
        )

    def _token(
        self, operation: Operation, body: bytes, deadline: float | None, secrets: Sequence[str] = ()
    ) -> Token:
        issued_at = self._clock()  # before sending: the gateway's creation time is no earlier than this
        response = self._call(operation, body=body, deadline=deadline, secrets=secrets)
        try:
            data = _json.loads(response.body)
            access, refresh = data["accessToken"], data["refreshToken"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
            access = refresh = None
        if not isinstance(access, str) or not access or not isinstance(refresh, str):
            raise UnexpectedResponseError(
                f"{operation.name}: response has no accessToken/refreshToken", status=response.status
            )
        return Token(access, refresh, issued_at)

    @staticmethod
    def _parse(operation: Operation, response: Response, parse: Callable[[bytes], _T]) -> _T:
        try:
            return parse(response.body)
        except ValidationError as exc:
            if operation.outcome_unknown_if_lost:
                # 2xx means the gateway did it; we just cannot read the answer.
                raise OutcomeUnknownError(
                    f"{operation.name}: HTTP {response.status} but the response is unreadable ({exc.field})",
                    status=response.status,
                ) from None
            raise UnexpectedResponseError(
                f"{operation.name}: unexpected response shape ({exc.field})", status=response.status
            ) from None

    def _scrub(self, body: bytes, extra: Sequence[str] = ()) -> bytes:
        return scrub(body, (*self._credentials.secret_values(), *extra))

    def _api_error(self, op: str, response: Response, extra_secrets: Sequence[str] = ()) -> Pay1stAPIError:
        error = error_for_status(response.status, self._scrub(response.body, extra_secrets))
        logger.warning(
            "pay1st %s failed: HTTP %d errorCode=%s sessionId=%s",
            op,
            error.status,
            error.error_code,
            error.session_id,
        )
        return error
