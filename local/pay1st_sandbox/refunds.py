"""Refunds (§15) and chargebacks (§16), from the gateway's side.

The refund endpoint is checked like the others (Content-Type, token, signature, body), plus its own rules:
the payment must be SUCCESSFUL, the amount at most what is still refundable (amount minus refunds that
succeeded or are open), and a ``partnerRefundReference`` is used once for good (400, like a payment's
``partnerReference``). It answers 201 PENDING; after ``refund_settle_seconds`` the refund settles by
itself, announced to ``refundWebhookUrl`` by the same signed webhook dispatcher as payment webhooks.

The fault ``refund_outcome`` picks how it settles: ``SUCCESSFUL`` / ``FAILED`` (PROCESSING, then that),
``REJECTED`` (answered with ``handlingType`` NO_REFUND, then REJECTED), ``PSP_MANUAL`` (PROCESSING, then
nothing until ``POST /_sandbox/refunds/<refundReference>/settle``). A refund that makes the payment fully
refunded moves the payment to ``REFUND`` (with its payment webhook); ``POST /_sandbox/payments/<ref>/chargeback``
moves a paid payment to ``CHARGEBACK``.
"""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import ControlError, bad_request
from .payments import SUCCESSFUL
from .signing import format_timestamp

if TYPE_CHECKING:
    from .state import SandboxState

PENDING = "PENDING"
PROCESSING = "PROCESSING"
REFUND_SUCCESSFUL = "SUCCESSFUL"
REFUND_FAILED = "FAILED"
REJECTED = "REJECTED"
OPEN = frozenset({PENDING, PROCESSING})
FINAL = frozenset({REFUND_SUCCESSFUL, REFUND_FAILED, REJECTED})
OUTCOMES = ("SUCCESSFUL", "FAILED", "REJECTED", "PSP_MANUAL")


@dataclass
class Refund:
    refund_reference: str
    payment_reference: str  # the payment's C-…-P reference, whichever reference the request named (§15)
    transaction_reference: str
    partner_reference: str
    partner_refund_reference: str
    amount: Decimal
    currency_code: str
    full_refund: bool
    reason: str | None
    webhook_url: str | None
    handling_type: str
    outcome: str
    created_at: float
    updated_at: float
    status: str = PENDING
    history: list[dict[str, Any]] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        """The §15 201 body (and what the webhook and the control API show)."""
        return {
            "refundReference": self.refund_reference,
            "transactionReference": self.transaction_reference,
            "partnerReference": self.partner_reference,
            "partnerRefundReference": self.partner_refund_reference,
            "amount": self.amount,
            "currencyCode": self.currency_code,
            "status": self.status,
            "handlingType": self.handling_type,
            "fullRefund": self.full_refund,
            "reason": self.reason,
            "createdDate": format_timestamp(self.created_at),
            "lastModifiedDate": format_timestamp(self.updated_at),
        }


class RefundDesk:
    """The refunds the sandbox holds, the requests it received, and the timers that settle them."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._lock = threading.RLock()
        self._refunds: dict[str, Refund] = {}
        self._by_partner_reference: dict[str, str] = {}
        self._received: list[dict[str, Any]] = []
        self._timers: list[threading.Timer] = []

    # -- what the gateway API calls --

    def note_received(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Log a refund request (mutated later with how it was answered)."""
        with self._lock:
            self._received.append(entry)
            return entry

    def create(self, body: dict[str, Any], amount: Decimal | None, reason: str | None) -> Refund:
        state = self._state
        outcome = state.faults.current.refund_outcome
        now = state.now()
        with self._lock:
            payment = state.refund_target(str(body["transactionReference"]))
            if payment is None:
                # §15 is silent on how Pay1st refuses the other kind of reference; a gateway that looks
                # transactions up by the id it issued simply does not find a payment's C-…-P (or, by
                # default, a C-…-T), so it answers like any unknown reference: 400 UNKNOWN_REFERENCE.
                what = "transaction" if state.transaction_ids else "payment"
                raise bad_request("UNKNOWN_REFERENCE", f"No {what} with this transactionReference.")
            partner_refund_reference = str(body["partnerRefundReference"])
            if partner_refund_reference in self._by_partner_reference:
                raise bad_request(
                    "DUPLICATE_PARTNER_REFUND_REFERENCE", "A refund with this partnerRefundReference exists."
                )
            if payment.status != SUCCESSFUL:
                raise bad_request(
                    "PAYMENT_NOT_REFUNDABLE", f"The payment is {payment.status}, not SUCCESSFUL."
                )
            refundable = payment.amount - self._committed(payment.reference)
            amount = refundable if amount is None else amount
            if amount <= 0 or amount > refundable:
                raise bad_request("AMOUNT_EXCEEDS_REFUNDABLE", f"At most {refundable} can be refunded.")
            refund = Refund(
                refund_reference=f"R-{secrets.randbelow(9 * 10**14) + 10**14}",
                payment_reference=payment.reference,
                transaction_reference=str(body["transactionReference"]),
                partner_reference=payment.partner_reference,
                partner_refund_reference=partner_refund_reference,
                amount=amount,
                currency_code=payment.currency_code,
                full_refund=amount == payment.amount,
                reason=reason,
                webhook_url=body.get("refundWebhookUrl"),
                handling_type={"REJECTED": "NO_REFUND", "PSP_MANUAL": "PSP_MANUAL"}.get(outcome, "PSP_API"),
                outcome=outcome,
                created_at=now,
                updated_at=now,
            )
            refund.history.append({"status": PENDING, "at": format_timestamp(now), "source": "create"})
            self._refunds[refund.refund_reference] = refund
            self._by_partner_reference[partner_refund_reference] = refund.refund_reference
            state.counters.incr("refunds_created")
            self._settle_later(refund.refund_reference, state.config.refund_settle_seconds)
            return copy.deepcopy(refund)

    def _committed(self, payment_reference: str) -> Decimal:
        return sum(
            (
                r.amount
                for r in self._refunds.values()
                if r.payment_reference == payment_reference and r.status not in (REFUND_FAILED, REJECTED)
            ),
            Decimal(0),
        )

    # -- settling --

    def _settle_later(self, refund_reference: str, seconds: float) -> None:
        def settle() -> None:
            try:
                self.settle(refund_reference, None, source="settlement")
            except ControlError:
                pass  # settled through the control API meanwhile: nothing left to do

        timer = threading.Timer(seconds, settle)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def settle(self, refund_reference: str, status: str | None, *, source: str) -> Refund:
        """Move a refund on: to ``status``, or as its outcome says (None). 409 once it is final."""
        with self._lock:
            refund = self._refunds.get(refund_reference) or self._refunds.get(
                self._by_partner_reference.get(refund_reference, "")
            )
            if refund is None:
                raise ControlError(404, "UNKNOWN_REFUND", "no refund with this reference")
            if refund.status in FINAL:
                raise ControlError(409, "INVALID_TRANSITION", f"the refund is already {refund.status}")
            if status is not None and status not in (PROCESSING, *FINAL):
                raise ControlError(
                    400, "INVALID_REQUEST", "status must be PROCESSING, SUCCESSFUL, FAILED or REJECTED"
                )
            steps = [status] if status is not None else self._steps(refund)
            for step in steps:
                if step != refund.status:
                    self._move(refund, step, source)
            return copy.deepcopy(refund)

    @staticmethod
    def _steps(refund: Refund) -> list[str]:
        if refund.outcome == "REJECTED":
            return [REJECTED]
        if refund.outcome == "PSP_MANUAL":
            return [PROCESSING]  # a person at Pay1st finishes it (the control API plays them)
        return [PROCESSING, refund.outcome]

    def _move(self, refund: Refund, status: str, source: str) -> None:
        now = self._state.now()
        refund.status, refund.updated_at = status, now
        refund.history.append({"status": status, "at": format_timestamp(now), "source": source})
        self._state.counters.incr("refund_status_changes")
        self._announce(refund, now)
        if status == REFUND_SUCCESSFUL:
            payment = self._state.payment(refund.payment_reference)
            refunded = sum(
                (
                    r.amount
                    for r in self._refunds.values()
                    if r.payment_reference == refund.payment_reference and r.status == REFUND_SUCCESSFUL
                ),
                Decimal(0),
            )
            if payment is not None and payment.status == SUCCESSFUL and refunded >= payment.amount:
                self._state.apply_outcome(payment.reference, "refund", source="refund", reversal=True)

    def _announce(self, refund: Refund, now: float) -> None:
        if not refund.webhook_url:
            return
        self._state.webhooks.announce(
            refund.webhook_url,
            lambda event_id: {**refund.document(), "eventId": event_id, "eventTime": format_timestamp(now)},
            reference=refund.refund_reference,
            partner_reference=refund.partner_refund_reference,
            status=refund.status,
        )

    # -- inspection and control --

    def refunds(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    **r.document(),
                    "paymentReference": r.payment_reference,
                    "history": list(r.history),
                    "webhookUrl": r.webhook_url,
                }
                for r in self._refunds.values()
            ]

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._received)

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()

    def reset(self) -> None:
        self.stop()
        with self._lock:
            self._refunds.clear()
            self._by_partner_reference.clear()
            self._received.clear()
