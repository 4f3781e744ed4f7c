"""The sandbox's in-memory world: clock, tokens, payments, checkout sessions, fulfilments. Thread-safe.

Lock order: this object's lock may be held while calling the counters, the fault injector or the
webhook dispatcher (each guards itself with a leaf lock); none of those ever calls back in here.
"""

from __future__ import annotations

import base64
import copy
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import jsonutil
from .catalogue import ChannelEntry
from .config import CALLBACK_OUTCOMES, SandboxConfig
from .counters import Counters
from .errors import ControlError, GatewayError, bad_request, unauthorized
from .faults import FaultInjector
from .payments import CALLBACK_FOR_STATUS, NEW, OUTCOMES, PENDING, REVERSALS, SUCCESSFUL, Payment
from .refunds import RefundDesk
from .signing import format_timestamp
from .webhooks import WebhookDispatcher, WebhookEvent

logger = logging.getLogger("pay1st_sandbox.state")


@dataclass
class AccessToken:
    value: str
    refresh_token: str
    created_at: float
    revoked: bool = False

    def __repr__(self) -> str:
        return f"AccessToken(created_at={self.created_at!r}, revoked={self.revoked!r})"


@dataclass
class RefreshToken:
    value: str
    last_used_at: float
    revoked: bool = False

    def __repr__(self) -> str:
        return f"RefreshToken(last_used_at={self.last_used_at!r}, revoked={self.revoked!r})"


@dataclass(frozen=True)
class CheckoutSession:
    """A hosted-page visit: the access token is checked once, when the page is opened."""

    id: str
    reference: str
    channel_id: int | None
    expires_at: float


@dataclass(frozen=True)
class NewPayment:
    """A validated §7 request."""

    amount: Decimal
    country_code: str
    currency_code: str
    partner_reference: str
    products: list[dict[str, Any]]
    request: dict[str, Any]
    webhook_url: str | None
    callback_overrides: dict[str, str | None]


def _opaque_token(kind: str) -> str:
    # Standard base64 plus a "+", "/" and "=" by construction: a checkout link that forgets to
    # URL-escape the access token (§8) breaks here exactly as it would against the real gateway.
    return f"{kind}+{base64.b64encode(secrets.token_bytes(24)).decode('ascii')}/{secrets.token_hex(4)}="


class SandboxState:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.faults = FaultInjector(self.config.seed)
        self.counters = Counters()
        self.webhooks = WebhookDispatcher(self.config, self.faults, self.counters, self.now)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._payments: dict[str, Payment] = {}
        self._by_partner_reference: dict[str, str] = {}
        self._sessions: dict[str, CheckoutSession] = {}
        self._fulfilments: list[dict[str, Any]] = []
        self._timers: list[threading.Timer] = []
        self.refunds = RefundDesk(self)  # §15 refunds; takes this object's lock, never the other way round

    # -- lifecycle and time --

    def start(self) -> None:
        self._stopping.clear()
        self.webhooks.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self.refunds.stop()
        self.webhooks.stop()

    def now(self) -> float:
        """The sandbox's wall clock: real time shifted by the clock-skew fault."""
        return time.time() + self.faults.current.clock_skew_seconds

    def pause(self, seconds: float) -> None:
        """Sleep for a fault, cut short when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    @property
    def token_lifetime(self) -> float:
        override = self.faults.current.token_lifetime
        return self.config.token_lifetime if override is None else override

    # -- tokens (§2, §3) --

    def issue_token(self) -> tuple[str, str]:
        now = self.now()
        with self._lock:
            self._forget_dead_tokens(now)
            refresh = RefreshToken(_opaque_token("rt"), now)
            access = AccessToken(_opaque_token("at"), refresh.value, now)
            self._refresh[refresh.value] = refresh
            self._access[access.value] = access
            self.counters.incr("tokens_issued")
            return access.value, refresh.value

    def refresh_token(self, refresh_value: str) -> tuple[str, str]:
        """Decision: a refresh issues a NEW access token (created now) against the same refresh token.

        The previous access token stays valid until its own expiry, as a stateless (JWT-like) token
        would; so a client that ignores the refreshed token fails once the old one runs out.
        """
        now = self.now()
        with self._lock:
            refresh = self._refresh.get(refresh_value)
            if refresh is None or refresh.revoked:
                raise unauthorized("INVALID_REFRESH_TOKEN", "The refresh token is not valid.")
            if now - refresh.last_used_at > self.config.refresh_token_lifetime:
                raise unauthorized("REFRESH_TOKEN_EXPIRED", "The refresh token has expired.")
            refresh.last_used_at = now
            access = AccessToken(_opaque_token("at"), refresh.value, now)
            self._access[access.value] = access
            self.counters.incr("tokens_refreshed")
            return access.value, refresh.value

    def check_access_token(self, value: str) -> AccessToken:
        """The live token record (a copy), or 401 for an unknown, revoked or expired token."""
        now = self.now()
        with self._lock:
            token = self._access.get(value)
            if token is None or token.revoked:
                raise unauthorized("INVALID_TOKEN", "The access token is not valid.")
            if now - token.created_at > self.token_lifetime:
                raise unauthorized("TOKEN_EXPIRED", "The access token has expired.")
            return copy.copy(token)

    def expire_tokens(self, *, refresh_tokens: bool = True) -> int:
        """Revoke every access token (and refresh token unless told not to); returns how many."""
        with self._lock:
            for token in self._access.values():
                token.revoked = True
            if refresh_tokens:
                for refresh in self._refresh.values():
                    refresh.revoked = True
            return len(self._access)

    def _forget_dead_tokens(self, now: float) -> None:
        horizon = max(self.token_lifetime, self.config.signature_window) * 2
        for value in [v for v, t in self._access.items() if t.revoked or now - t.created_at > horizon]:
            del self._access[value]
        dead_refresh = [
            v
            for v, r in self._refresh.items()
            if r.revoked or now - r.last_used_at > self.config.refresh_token_lifetime
        ]
        for value in dead_refresh:
            del self._refresh[value]

    # -- payments (§7, §9) --

    def create_payment(self, new: NewPayment) -> Payment:
        now = self.now()
        with self._lock:
            if new.partner_reference in self._by_partner_reference:
                raise bad_request(
                    "DUPLICATE_PARTNER_REFERENCE",
                    "A payment with this partnerReference already exists.",
                )
            payment = Payment(
                reference=self._new_reference(),
                partner_reference=new.partner_reference,
                amount=new.amount,
                country_code=new.country_code,
                currency_code=new.currency_code,
                products=new.products,
                request=new.request,
                webhook_url=new.webhook_url or self.config.default_webhook_url,
                callback_urls={
                    outcome: new.callback_overrides.get(outcome) or self.config.default_callback_url(outcome)
                    for outcome in CALLBACK_OUTCOMES
                },
                created_at=now,
                updated_at=now,
            )
            payment.record(NEW, now, "create")
            self._payments[payment.reference] = payment
            self._by_partner_reference[payment.partner_reference] = payment.reference
            self.counters.incr("payments_created")
            return copy.deepcopy(payment)

    def _new_reference(self) -> str:
        # Random rather than seeded: a restarted sandbox must not hand out references that a
        # partner's database (which outlives the sandbox) already holds for other payments.
        while True:
            reference = f"C-{secrets.randbelow(9 * 10**14) + 10**14}-P"
            if reference not in self._payments:
                return reference

    def payment(self, reference: str) -> Payment | None:
        """A copy of the payment with this Pay1st reference."""
        with self._lock:
            payment = self._payments.get(reference)
            return copy.deepcopy(payment) if payment else None

    def find_payment(self, reference_or_partner_reference: str) -> Payment | None:
        """By Pay1st reference, else by partnerReference (for the control API and tests)."""
        key = reference_or_partner_reference
        with self._lock:
            payment = self._payments.get(key) or self._payments.get(self._by_partner_reference.get(key, ""))
            return copy.deepcopy(payment) if payment else None

    def payments(self) -> list[Payment]:
        with self._lock:
            return [copy.deepcopy(payment) for payment in self._payments.values()]

    def apply_outcome(
        self,
        reference: str,
        outcome: str,
        *,
        source: str,
        channel: ChannelEntry | None = None,
        reversal: bool = False,
    ) -> Payment:
        """Move a payment along its lifecycle (or reverse it: ``reversal``, see ``REVERSALS``) and queue the
        webhook; 409 when the move is not allowed."""
        table = REVERSALS if reversal else OUTCOMES
        if outcome not in table:
            raise ControlError(400, "UNKNOWN_OUTCOME", f"outcome must be one of {', '.join(table)}")
        target, allowed_from = table[outcome]
        now = self.now()
        with self._lock:
            payment = self._payments.get(reference)
            if payment is None:
                raise ControlError(404, "UNKNOWN_PAYMENT", "no payment with this reference")
            if payment.status not in allowed_from:
                raise ControlError(
                    409, "INVALID_TRANSITION", f"cannot {outcome} a payment that is {payment.status}"
                )
            if channel is not None:
                payment.channel = channel
            payment.record(target, now, source)
            self.counters.incr("status_changes")
            self._announce(payment, now)
            if target == PENDING and self.config.offline_settle_seconds is not None:
                self._settle_later(reference, self.config.offline_settle_seconds)
            return copy.deepcopy(payment)

    def callback_url(self, payment: Payment) -> str | None:
        return payment.callback_urls.get(CALLBACK_FOR_STATUS[payment.status])

    def _announce(self, payment: Payment, now: float) -> None:
        if not payment.webhook_url:
            logger.info("no webhook URL for %s; status %s not announced", payment.reference, payment.status)
            return
        event_id = uuid.uuid4().hex
        document = payment.webhook_document(self.config.partner_id, self.config.partner_code, event_id, now)
        self.webhooks.submit(
            WebhookEvent(
                event_id=event_id,
                url=payment.webhook_url,
                body=jsonutil.dumps(document),
                reference=payment.reference,
                partner_reference=payment.partner_reference,
                status=payment.status,
            )
        )

    def _settle_later(self, reference: str, seconds: float) -> None:
        def settle() -> None:
            try:
                self.apply_outcome(reference, "settle-offline", source="offline-settlement")
            except ControlError:
                pass  # settled, failed or abandoned meanwhile: nothing left to do

        timer = threading.Timer(seconds, settle)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    # -- hosted checkout sessions (§8) --

    def open_checkout_session(self, reference: str, channel_id: int | None) -> CheckoutSession:
        now = self.now()
        with self._lock:
            for sid in [sid for sid, s in self._sessions.items() if s.expires_at < now]:
                del self._sessions[sid]
            session = CheckoutSession(
                secrets.token_urlsafe(24), reference, channel_id, now + self.config.checkout_session_lifetime
            )
            self._sessions[session.id] = session
            return session

    def take_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session behind a button press; it is used up by the press."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is None:
            raise bad_request("INVALID_SESSION", "This checkout session is unknown or was already used.")
        if session.expires_at < self.now():
            raise unauthorized("SESSION_EXPIRED", "This checkout session has expired.")
        return session

    # -- fulfilment (§12) --

    def record_fulfilment(self, reference: str, products: Sequence[dict[str, Any]], signed_at: str) -> None:
        with self._lock:
            payment = self._payments.get(reference)
            if payment is None:
                raise bad_request("UNKNOWN_REFERENCE", "No payment with this reference.")
            if payment.status != SUCCESSFUL:
                raise bad_request(
                    "PAYMENT_NOT_SUCCESSFUL", f"The payment is {payment.status}, not SUCCESSFUL."
                )
            paid_skus = {product["sku"] for product in payment.products}
            unknown = sorted({item["sku"] for item in products} - paid_skus)
            if unknown:
                raise bad_request("UNKNOWN_SKU", f"Not products of this payment: {', '.join(unknown)}.")
            self._fulfilments.append(
                {
                    "reference": reference,
                    "partnerReference": payment.partner_reference,
                    "products": list(products),
                    "signedAt": signed_at,
                    "receivedAt": format_timestamp(self.now()),
                }
            )
            self.counters.incr("fulfilments_received")

    def fulfilments(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._fulfilments)

    # -- control --

    def reset(self) -> None:
        """Forget everything: tokens, payments, sessions, fulfilments, deliveries, faults, counters."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self._payments.clear()
            self._by_partner_reference.clear()
            self._sessions.clear()
            self._fulfilments.clear()
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        self.refunds.reset()
        self.webhooks.reset()
        self.faults.clear()
        self.counters.reset()

    def require_payment(self, reference: str) -> Payment:
        payment = self.payment(reference)
        if payment is None:
            raise GatewayError(400, "UNKNOWN_REFERENCE", "No payment with this reference.")
        return payment
