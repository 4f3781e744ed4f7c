"""``PartnerClient``: the partner routes of the bundle's HTTP API, one small method per operation.

One loop sends every request (``_call``): each attempt is signed afresh, a failure is classified once by
``retry.should_retry``, and the wait comes from ``retry.backoff_seconds``. Every operation is safe to
repeat: create is idempotent on ``partnerReference`` and refund on ``refundReference``, and every attempt
sends the identical body, so a retry can never create a second payment or refund; reads are reads; a repeated
fulfilment report is harmless.
"""

from __future__ import annotations

import json
import platform
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from pay1st_partner_client._version import __version__
from pay1st_partner_client.auth import Auth, SigV4Auth
from pay1st_partner_client.errors import ConnectionFailed, Pay1stPartnerError, error_for
from pay1st_partner_client.models import (
    FulfilledProduct,
    FulfilmentReceipt,
    Payment,
    PaymentMethods,
    Product,
    Refund,
    as_json,
)
from pay1st_partner_client.retry import backoff_seconds, should_retry

DEFAULT_MAX_ATTEMPTS = 3
# Names the client and its version in the API's access logs, so a partner's support request can say which one.
USER_AGENT = f"pay1st-partner-client/{__version__} python/{platform.python_version()}"


@dataclass(frozen=True)
class Answer:
    """What the transport got back: status, headers (lower-case names) and the parsed JSON body."""

    status: int
    headers: Mapping[str, str]
    body: Any


class PartnerClient:
    def __init__(
        self,
        base_url: str,
        auth: Auth | None = None,
        *,
        region: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout: float = 30.0,
        http: urllib3.PoolManager | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = auth or SigV4Auth(region)
        self._max_attempts = max(1, max_attempts)
        self._http = http or urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout)
        )
        self._sleep = sleep
        self._rng = rng

    # ------------------------------------------------------------------------------------------ operations
    def create_payment(
        self,
        partner_reference: str,
        *,
        amount: Decimal | str,
        currency_code: str,
        country_code: str,
        products: Iterable[Product | Mapping[str, Any]],
        metadata: Mapping[str, str] | None = None,
        channel_id: int | str | None = None,
    ) -> Payment:
        """``POST /payments``; a repeat of the same order answers the same payment (``replayed``)."""
        body: dict[str, Any] = {
            "partnerReference": partner_reference,
            "amount": str(amount),
            "currencyCode": currency_code,
            "countryCode": country_code,
            "products": [as_json(product) for product in products],
            "metadata": [{"key": key, "value": value} for key, value in (metadata or {}).items()],
        }
        if channel_id is not None:
            body["channelId"] = channel_id
        answer = self._call("POST", "/payments", body)
        return Payment.from_json(answer.body, replayed=answer.headers.get("idempotent-replayed") == "true")

    def get_payment(self, partner_reference: str) -> Payment:
        """``GET /payments/{partnerReference}``: the recorded payment (refreshed from Pay1st when stale)."""
        return Payment.from_json(self._call("GET", f"/payments/{quote(partner_reference, safe='')}").body)

    def payment_methods(self, country_code: str) -> PaymentMethods:
        """``GET /payment-methods?countryCode=``: the gateway's channels for a country (cached 5 min)."""
        answer = self._call("GET", "/payment-methods", query={"countryCode": country_code})
        return PaymentMethods.from_json(answer.body, cache=answer.headers.get("x-cache"))

    def report_fulfilment(
        self, partner_reference: str, products: Iterable[FulfilledProduct | Mapping[str, Any]]
    ) -> FulfilmentReceipt:
        """``POST /payments/{partnerReference}/fulfilment``: queued for delivery to Pay1st."""
        path = f"/payments/{quote(partner_reference, safe='')}/fulfilment"
        body = {"products": [as_json(product) for product in products]}
        return FulfilmentReceipt.from_json(self._call("POST", path, body).body)

    def refund(
        self,
        partner_reference: str,
        refund_reference: str,
        amount: Decimal | str | None = None,
        reason: str | None = None,
    ) -> Refund:
        """``POST /payments/{partnerReference}/refunds``: ``amount`` None refunds all that is still refundable.

        Idempotent on ``refund_reference``: every attempt (and any later repeat by the caller) sends the
        identical request, so a retry - also after ``refund_outcome_unknown`` - can never refund twice. After
        :class:`RefundOutcomeUnknown` repeat with the SAME reference and amount, never a new reference.
        """
        body: dict[str, Any] = {"refundReference": refund_reference}
        if amount is not None:
            body["amount"] = str(amount)
        if reason is not None:
            body["reason"] = reason
        answer = self._call("POST", f"/payments/{quote(partner_reference, safe='')}/refunds", body)
        return Refund.from_json(answer.body, replayed=answer.headers.get("idempotent-replayed") == "true")

    # -------------------------------------------------------------------------------------------- the loop
    def _call(
        self, method: str, path: str, body: Any = None, *, query: Mapping[str, str] | None = None
    ) -> Answer:
        url = f"{self.base_url}{path}" + (f"?{urlencode(query)}" if query else "")
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._send(method, url, data, self._auth.headers(method, url, data, headers))
            except ConnectionFailed:
                if not should_retry(None, None, attempt, self._max_attempts):
                    raise
            else:
                if answer.status < 400:
                    return answer
                error = error_for(answer.status, answer.body, _request_id(answer.headers))
                if not should_retry(answer.status, error.code, attempt, self._max_attempts):
                    raise error
            self._sleep(backoff_seconds(attempt, rng=self._rng))

    def _send(self, method: str, url: str, data: bytes, headers: Mapping[str, str]) -> Answer:
        """The transport: one HTTP exchange, nothing else (no retries, no redirects)."""
        try:
            response = self._http.request(
                method, url, body=data or None, headers=dict(headers), redirect=False, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ConnectionFailed(f"{method} {url.split('?')[0]}: {type(exc).__name__}") from exc
        try:
            parsed = json.loads(response.data) if response.data else None
        except ValueError:
            parsed = None
        if response.status < 400 and not isinstance(parsed, dict):
            raise Pay1stPartnerError(
                "the API answered something other than a JSON object", status=response.status
            )
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, parsed)


def _request_id(headers: Mapping[str, str]) -> str:
    return headers.get("apigw-requestid") or headers.get("x-amzn-requestid") or ""
