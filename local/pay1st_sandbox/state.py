"""The sandbox's in-memory world: clock, payments and their steps, fulfilments; it holds the tokens, checkout
sessions, refunds and webhooks desks. Thread-safe.

Lock order: this object's lock may be held while calling the counters, the fault injector or the
webhook dispatcher (each guards itself with a leaf lock); none of those ever calls back in here.
"""

from __future__ import annotations

import copy
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .catalogue import ChannelEntry
from .config import CALLBACK_OUTCOMES, SandboxConfig
from .counters import Counters
from .errors import ControlError, GatewayError, bad_request
from .faults import FaultInjector
from .flows import StepRefused, advance
from .instruments import IN_PROGRESS_STATUSES
from .payments import (
    CALLBACK_FOR_STATUS,
    NEW,
    OFFLINE_STATUSES,
    OUTCOMES,
    REVERSALS,
    SUCCESSFUL,
    Payment,
    PaymentOrder,
)
from .refunds import RefundDesk
from .sessions import CheckoutSessions
from .signing import format_timestamp
from .tokens import TokenDesk
from .webhooks import WebhookDispatcher

logger = logging.getLogger("pay1st_sandbox.state")


@dataclass
class NewPayment(PaymentOrder):
    """A validated §7 request: its order and the callback URLs it overrides."""

    callback_overrides: dict[str, str | None]


class SandboxState:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.faults = FaultInjector(self.config.seed)
        self.counters = Counters()
        self.webhooks = WebhookDispatcher(self.config, self.faults, self.counters, self.now)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.tokens = TokenDesk(self.config, self.faults, self.counters, self.now)
        self._payments: dict[str, Payment] = {}
        self._by_partner_reference: dict[str, str] = {}
        self.sessions = CheckoutSessions(self.now, self.config.checkout_session_lifetime)
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
    def transaction_ids(self) -> bool:
        """§15 transaction-reference mode: C-…-T ids in answers and webhooks, and refunds must name them."""
        override = self.faults.current.refund_reference
        return (override or self.config.refund_reference) == "transaction"

    # -- payments (§7, §9) --

    def create_payment(self, new: NewPayment) -> Payment:
        now = self.now()
        with self._lock:
            if new.partner_reference in self._by_partner_reference:
                raise bad_request(
                    "DUPLICATE_PARTNER_REFERENCE",
                    "A payment with this partnerReference already exists.",
                )
            order = new.order()
            order["webhook_url"] = new.webhook_url or self.config.default_webhook_url
            payment = Payment(
                **order,
                reference=self._new_reference("P"),
                transaction_reference=self._new_reference("T"),
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

    def _new_reference(self, kind: str) -> str:
        # Random rather than seeded: a restarted sandbox must not hand out references that a
        # partner's database (which outlives the sandbox) already holds for other payments. A transaction
        # id's digits differ from its payment's, so a partner cannot get one by swapping the suffix.
        taken = {p.transaction_reference for p in self._payments.values()} if kind == "T" else self._payments
        while True:
            reference = f"C-{secrets.randbelow(9 * 10**14) + 10**14}-{kind}"
            if reference not in taken:
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

    def refund_target(self, transaction_reference: str) -> Payment | None:
        """The payment a refund's ``transactionReference`` names (§15): by its C-…-P reference, or in the
        transaction-reference mode by its C-…-T transaction id only."""
        if not self.transaction_ids:
            return self.payment(transaction_reference)
        with self._lock:
            found = (p for p in self._payments.values() if p.transaction_reference == transaction_reference)
            payment = next(found, None)
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
            self._record(payment, target, now, source)
            return copy.deepcopy(payment)

    def take_step(
        self, reference: str, channel: ChannelEntry | None, value: str | None, *, source: str
    ) -> Payment:
        """One step of the payment's method flow (§14, :mod:`pay1st_sandbox.flows`): choose the method
        (``channel``) or answer the step the payment is at (``value``); each status it leads to is recorded
        and announced in order. 400 when the input cannot be taken, 409 when the payment is not at a step."""
        now = self.now()
        with self._lock:
            payment = self._payments.get(reference)
            if payment is None:
                raise ControlError(404, "UNKNOWN_PAYMENT", "no payment with this reference")
            if payment.status != NEW and payment.status not in IN_PROGRESS_STATUSES:
                raise ControlError(
                    409, "INVALID_TRANSITION", f"no step to take: the payment is {payment.status}"
                )
            chosen = payment.channel if payment.flow is not None else channel
            if chosen is None:
                raise ControlError(400, "UNKNOWN_CHANNEL", "choose a payment method (channelId) first")
            if channel is not None and channel != chosen:
                raise ControlError(409, "CHANNEL_CHOSEN", f"this payment is being paid with {chosen.name}")
            try:
                step = advance(payment.flow, chosen, value)
            except StepRefused as exc:
                raise ControlError(400, exc.code, exc.message) from None
            payment.channel, payment.flow = chosen, step.position
            for status in step.statuses:
                self._record(payment, status, now, source)
            return copy.deepcopy(payment)

    def _record(self, payment: Payment, status: str, now: float, source: str) -> None:
        payment.record(status, now, source)
        self.counters.incr("status_changes")
        self._announce(payment, now)
        if status in OFFLINE_STATUSES and self.config.offline_settle_seconds is not None:
            self._settle_later(payment.reference, self.config.offline_settle_seconds)

    def callback_url(self, payment: Payment) -> str | None:
        return payment.callback_urls.get(CALLBACK_FOR_STATUS[payment.status])

    def _announce(self, payment: Payment, now: float) -> None:
        if not payment.webhook_url:
            logger.info("no webhook URL for %s; status %s not announced", payment.reference, payment.status)
            return
        self.webhooks.announce(
            payment.webhook_url,
            lambda event_id: payment.webhook_document(
                self.config.partner_id, self.config.partner_code, event_id, now, self.transaction_ids
            ),
            reference=payment.reference,
            partner_reference=payment.partner_reference,
            status=payment.status,
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
            self.tokens.clear()
            self._payments.clear()
            self._by_partner_reference.clear()
            self.sessions.clear()
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
