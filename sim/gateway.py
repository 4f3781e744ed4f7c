"""The simulated Pay1st: the gateway's side of the contract (pay1st-gateway.md), in process and seeded.

Written from the contract, not from the layer (it imports nothing of ``pay1st``/``pay1st_partner``): two
implementations that shared a bug would agree with each other. It checks what the gateway checks (Basic auth
on §2, the access token and its 5-minute window, the §4 signature over timestamp + body with the current or,
during a rotation, the previous Signing Key), stores payments and refunds, refuses a second payment or refund
under one partner reference, and moves payments through their status flows when the world says so
(:meth:`SimPay1st.set_status`), telling the world every change (``on_change``) so it can send webhooks.

The truth it keeps is what the invariants compare the bundle against: every status a payment reached here,
what was refunded, which fulfilments arrived (by reference), and how many status queries each payment got.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

FINAL = frozenset({"SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED"})
REFUND_FINAL = frozenset({"SUCCESSFUL", "FAILED", "REJECTED"})
TOKEN_WINDOW = 300.0


@dataclass
class GPayment:
    reference: str
    partner_reference: str  # the attempt's reference, as sent in §7
    amount: Decimal
    currency: str
    country: str
    body: dict[str, Any]
    status: str = "NEW"
    statuses: list[tuple[float, str]] = field(default_factory=list)
    refunded: Decimal = Decimal(0)  # refunds SUCCESSFUL
    reserved: Decimal = Decimal(0)  # refunds not FAILED/REJECTED
    queries: list[float] = field(default_factory=list)
    paid: bool = False
    fulfilments: int = 0


@dataclass
class GRefund:
    refund_reference: str
    partner_refund_reference: str
    payment: GPayment
    amount: Decimal
    handling_type: str
    status: str = "PENDING"


class Answer(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class SimPay1st:
    def __init__(self, now: Callable[[], float], *, api_key: str, api_secret: str, signing_key: str) -> None:
        self._now = now  # the gateway's own clock (epoch seconds; the world may skew it)
        self.credentials: set[tuple[str, str]] = {(api_key, api_secret)}
        self.signing_keys: list[str] = [signing_key]
        self.tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.payments: dict[str, GPayment] = {}
        self.by_partner_reference: dict[str, GPayment] = {}
        self.refunds: dict[str, GRefund] = {}
        self._serial = 0
        self.on_change: Callable[[GPayment, str], None] = lambda payment, previous: None
        self.on_refund_change: Callable[[GRefund], None] = lambda refund: None
        self.on_created: Callable[[GPayment], None] = lambda payment: None
        self.on_refund_created: Callable[[GRefund], None] = lambda refund: None
        self.requests = 0
        self.by_route: dict[str, int] = {}
        self.refund_handling: Callable[[GPayment], str] = lambda payment: "PSP_API"

    # ---------------------------------------------------------------- the API

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        self.requests += 1
        parts = urlsplit(url)
        route = f"{method} {parts.path}"
        self.by_route[route] = self.by_route.get(route, 0) + 1
        headers = {k.lower(): v for k, v in headers.items()}
        try:
            status, document = self._route(route, parse_qs(parts.query), headers, body or b"")
        except Answer as answer:
            self._serial += 1
            error = {
                "errorMessage": answer.message or answer.code,
                "errorCode": answer.code,
                "sessionId": f"s-{self._serial}",
            }
            return answer.status, json.dumps(error).encode()
        return status, (b"" if document is None else json.dumps(document, default=str).encode())

    def _route(
        self, route: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if route == "POST /api/pay1st/auth/token":
            self._basic(headers)
            return 200, self._issue()
        if route == "POST /api/pay1st/auth/refresh":
            self._basic(headers)
            old = self.refresh_tokens.get(str(_json(body).get("refreshToken")))
            if old is None or self._now() - self.tokens.get(old, -1e18) > TOKEN_WINDOW:
                raise Answer(401, "INVALID_REFRESH_TOKEN")
            return 200, self._issue()
        created = self._token(headers)
        if route == "GET /api/pay1st/payments":
            reference = (query.get("reference") or [""])[0]
            payment = self.payments.get(reference)
            if payment is None:
                raise Answer(400, "PAYMENT_NOT_FOUND")
            payment.queries.append(self._now())
            return 200, self._details(payment)
        if route == "GET /api/pay1st/payments/methods":
            return 200, {"data": {"groups": []}}
        self._signed(headers, body, created)
        document = _json(body)
        if route == "POST /api/pay1st/payments/create":
            return 201, self._create(document)
        if route == "POST /api/pay1st/payments/fulfilments":
            payment = self.payments.get(str(document.get("reference")))
            if payment is None:
                raise Answer(400, "PAYMENT_NOT_FOUND")
            payment.fulfilments += 1
            return 200, None
        if route == "POST /api/pay1st/transactions/refunds/create":
            return 201, self._refund(document)
        raise Answer(404, "NOT_FOUND")

    def _basic(self, headers: dict[str, str]) -> None:
        value = headers.get("authorization", "")
        try:
            key, _, secret = base64.b64decode(value.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            raise Answer(401, "UNAUTHORIZED") from None
        if (key, secret) not in self.credentials:
            raise Answer(401, "UNAUTHORIZED")

    def _issue(self) -> dict[str, str]:
        self._serial += 1
        access, refresh = f"at-{self._serial}", f"rt-{self._serial}"
        self.tokens[access] = self._now()
        self.refresh_tokens[refresh] = access
        return {"role": "API_USER", "accessToken": access, "refreshToken": refresh}

    def _token(self, headers: dict[str, str]) -> float:
        access = headers.get("accesstoken", "").removeprefix("Bearer ")
        created = self.tokens.get(access)
        if created is None:
            raise Answer(401, "INVALID_TOKEN")
        return created

    def _signed(self, headers: dict[str, str], body: bytes, token_created: float) -> None:
        stamp = headers.get("x-timestamp", "")
        signature = headers.get("x-signature", "")
        try:
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).timestamp()
        except ValueError:
            raise Answer(400, "INVALID_TIMESTAMP") from None
        if abs(at - token_created) > TOKEN_WINDOW:
            raise Answer(400, "TIMESTAMP_OUT_OF_RANGE")
        for key in self.signing_keys:
            expected = hmac.new(key.encode(), stamp.encode() + body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, signature):
                return
        raise Answer(400, "INVALID_SIGNATURE")

    def _create(self, document: dict[str, Any]) -> dict[str, Any]:
        reference = document.get("partnerReference")
        if not isinstance(reference, str) or not reference:
            raise Answer(400, "INVALID_REQUEST")
        if reference in self.by_partner_reference:
            raise Answer(400, "DUPLICATE_PARTNER_REFERENCE")
        try:
            amount = Decimal(str(document["amount"]))
            currency, country = str(document["currencyCode"]), str(document["countryCode"])
        except (KeyError, ArithmeticError):
            raise Answer(400, "INVALID_REQUEST") from None
        if amount <= 0:
            raise Answer(400, "INVALID_AMOUNT")
        self._serial += 1
        payment = GPayment(f"C-{100000000 + self._serial}-P", reference, amount, currency, country, document)
        payment.statuses.append((self._now(), "NEW"))
        self.payments[payment.reference] = payment
        self.by_partner_reference[reference] = payment
        self.on_created(payment)
        return {
            "reference": payment.reference,
            "partnerReference": reference,
            "countryCode": country,
            "currencyCode": currency,
            "amount": str(amount),
            "status": "NEW",
        }

    def _details(self, payment: GPayment) -> dict[str, Any]:
        body = payment.body
        return {
            "reference": payment.reference,
            "partnerReference": payment.partner_reference,
            "amount": str(payment.amount),
            "currencyCode": payment.currency,
            "countryCode": payment.country,
            "status": payment.status,
            "products": body.get("products", []),
            "metadata": body.get("metadata", []),
            "partnerSettings": {"partnerId": 42},
        }

    def _refund(self, document: dict[str, Any]) -> dict[str, Any]:
        payment = self.payments.get(str(document.get("transactionReference")))
        ours = str(document.get("partnerRefundReference") or "")
        if payment is None:
            raise Answer(400, "PAYMENT_NOT_FOUND")
        if not ours or ours in self.refunds:
            raise Answer(400, "DUPLICATE_PARTNER_REFUND_REFERENCE")
        if payment.status != "SUCCESSFUL":
            raise Answer(400, "PAYMENT_NOT_REFUNDABLE")
        amount = Decimal(str(document.get("amount") or payment.amount))
        if amount <= 0 or payment.reserved + amount > payment.amount:
            raise Answer(400, "REFUND_AMOUNT_EXCEEDED")
        self._serial += 1
        handling = self.refund_handling(payment)
        refund = GRefund(f"R-{self._serial}", ours, payment, amount, handling)
        if handling == "NO_REFUND":
            refund.status = "REJECTED"
        else:
            payment.reserved += amount
        self.refunds[ours] = refund
        self.on_refund_created(refund)
        return self.refund_document(refund)

    def refund_document(self, refund: GRefund) -> dict[str, Any]:
        payment = refund.payment
        return {
            "refundReference": refund.refund_reference,
            "transactionReference": payment.reference,
            "partnerReference": payment.partner_reference,
            "partnerRefundReference": refund.partner_refund_reference,
            "amount": str(refund.amount),
            "currencyCode": payment.currency,
            "status": refund.status,
            "handlingType": refund.handling_type,
            "fullRefund": refund.amount == payment.amount,
        }

    # ------------------------------------------------------------ the world moves it

    def set_status(self, payment: GPayment, status: str) -> bool:
        """Move a payment on, as its customer, Pay1st's risk team or a bank would; False when not allowed."""
        current = payment.status
        allowed = (
            (
                current in ("NEW", "PENDING", "PENDING_INVESTIGATION")
                and status not in ("REFUND", "CHARGEBACK", "NEW")
            )
            or (current == "SUCCESSFUL" and status in ("REFUND", "CHARGEBACK"))
            or (current == "REFUND" and status == "CHARGEBACK")
        )
        if current == "PENDING_INVESTIGATION" and status in ("PENDING", "PENDING_INVESTIGATION"):
            allowed = False
        if current == "PENDING" and status == "PENDING":
            allowed = False
        if not allowed:
            return False
        payment.status = status
        payment.statuses.append((self._now(), status))
        if status == "SUCCESSFUL":
            payment.paid = True
        self.on_change(payment, current)
        return True

    def set_refund_status(self, refund: GRefund, status: str) -> bool:
        if refund.status in REFUND_FINAL or (refund.status == "PROCESSING" and status == "PROCESSING"):
            return False
        refund.status = status
        payment = refund.payment
        if status in ("FAILED", "REJECTED"):
            payment.reserved -= refund.amount
        if status == "SUCCESSFUL":
            payment.refunded += refund.amount
        self.on_refund_change(refund)
        if status == "SUCCESSFUL" and payment.refunded == payment.amount:
            self.set_status(payment, "REFUND")
        return True

    def rotate_signing_key(self, new_key: str) -> None:
        self.signing_keys = [new_key, *self.signing_keys[:1]]

    def retire_old_keys(self) -> None:
        self.signing_keys = self.signing_keys[:1]


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body, parse_float=Decimal)
    except ValueError:
        raise Answer(400, "INVALID_JSON") from None
    if not isinstance(document, dict):
        raise Answer(400, "INVALID_JSON")
    return document


def sign(key: str, timestamp: str, body: bytes) -> str:
    """§4 / §10 signing-key scheme, as Pay1st signs its webhooks."""
    return hmac.new(key.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()


def sign_basic(username: str, password: str, body: bytes) -> str:
    """§10 basic-auth scheme: the key is the base64 TEXT of username:password, over the trimmed body."""
    key = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return hmac.new(key.encode(), body.strip(), hashlib.sha256).hexdigest()
