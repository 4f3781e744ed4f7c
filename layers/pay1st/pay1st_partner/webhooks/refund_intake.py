"""Refund webhook intake (contract §15): authenticate, record durably, then apply; statuses only forward.

Order, and why (as :mod:`pay1st_partner.webhooks.intake` for payment webhooks):

1. size limit (413): the route is public;
2. authentication over the RAW body by the SAME :class:`~pay1st_partner.webhooks.auth.WebhookAuthenticator`
   the payment webhook route uses (whatever schemes it accepts), before anything is read or stored: a
   forged, replayed-stale or unsigned event is a 401 that touched nothing, whether its references exist or
   not (so nothing can be learnt by probing);
3. durable record in WebhookEventsTable, or 503 ``not_recorded`` so the gateway retries;
4. parse (400; the raw event stays recorded);
5. match: our ``partnerRefundReference`` names the refund (its pointer names the payment); the payment's
   Pay1st reference, and the amount and currency when the event carries them, must be the refund's;
6. apply directly: there is no refund status query (§15), so an authenticated event is the gateway's word.
   Statuses only move forward (``PENDING → PROCESSING → {SUCCESSFUL, FAILED, REJECTED}``); a duplicate or a
   late event is acknowledged and changes nothing; ``handlingType`` NO_REFUND is REJECTED; a different final
   after a final is logged and counted (``RefundStatusConflict``), never applied. An UNSIGNED event (signature
   mode ``off``) cannot be confirmed by anything, so it is recorded and never applied;
7. answer: 2xx once recorded and applied (or safely ignorable), 503 ``not_applied`` when processing failed.
"""

from __future__ import annotations

from collections.abc import Mapping

from pay1st.errors import ValidationError
from pay1st.models import RefundWebhookEvent

from pay1st_partner.errors import InvalidRequest, NotApplied, PayloadTooLarge
from pay1st_partner.events import EventPublisher
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.reconcile import AMOUNT_MISMATCH, REFERENCE_MISMATCH
from pay1st_partner.records import ReferenceMismatch
from pay1st_partner.references import is_partner_reference
from pay1st_partner.refunds.repository import RefundRepository
from pay1st_partner.request_fields import parse_json_object, require_text
from pay1st_partner.state import Verdict
from pay1st_partner.webhooks.auth import WebhookAuthenticator
from pay1st_partner.webhooks.event_store import WebhookEventStore
from pay1st_partner.webhooks.results import MAX_WEBHOOK_BYTES, UNMATCHED, IntakeResult

UNSIGNED_IGNORED = "unsigned_ignored"


class RefundWebhookIntake:
    def __init__(
        self,
        *,
        store: WebhookEventStore,
        refunds: RefundRepository,
        publisher: EventPublisher,
        authenticator: WebhookAuthenticator,
        max_bytes: int = MAX_WEBHOOK_BYTES,
    ) -> None:
        self._store = store
        self._refunds = refunds
        self._publisher = publisher
        self._authenticator = authenticator
        self._max_bytes = max_bytes

    def handle(self, raw_body: bytes, headers: Mapping[str, str]) -> IntakeResult:
        if len(raw_body) > self._max_bytes:
            count("WebhookRejected", reason="payload_too_large")
            raise PayloadTooLarge()
        verified = self._authenticator.verify(raw_body, headers)  # WebhookRejected → 401
        recorded = self._store.record(raw_body, signature_verified=verified)  # NotRecorded → 503
        try:
            event = RefundWebhookEvent.from_dict(parse_json_object(raw_body))
            _check_text(event)
        except InvalidRequest:
            self._store.set_outcome(recorded.event_id, "invalid_json", kind="refund")
            count("WebhookRejected", reason="invalid_json")
            raise
        except ValidationError as exc:
            self._store.set_outcome(recorded.event_id, "invalid_event", kind="refund", field=exc.field)
            count("WebhookRejected", reason="invalid_event")
            raise InvalidRequest(f"Invalid refund event: {exc}", code="invalid_request") from None

        log = {
            "refundReference": event.partner_refund_reference,
            "reference": event.transaction_reference,
            "reported_status": event.status,
            "event_id": recorded.event_id,
            "duplicate": recorded.duplicate,
            "signature_verified": verified,
        }
        count("RefundWebhookAccepted")
        logger.info("refund webhook received", extra=log)
        try:
            outcome, status, owner = self._process(event) if verified else (UNSIGNED_IGNORED, None, None)
        except Exception as exc:  # recorded but not applied: ask for a retry (processing is idempotent)
            logger.exception(
                "refund webhook recorded but not applied", extra={**log, "error_type": type(exc).__name__}
            )
            count("WebhookNotApplied")
            self._store.set_outcome(recorded.event_id, "not_applied", kind="refund")
            raise NotApplied() from exc
        self._store.set_outcome(
            recorded.event_id,
            outcome,
            kind="refund",
            # The payment that holds the refund: indexes the event (paymentWebhooks) for operators.
            partnerReference=owner,
            refundReference=event.partner_refund_reference,
            reference=event.transaction_reference,
            reportedStatus=event.status,
        )
        logger.info("refund webhook processed", extra={**log, "outcome": outcome})
        matched = outcome not in (UNMATCHED, REFERENCE_MISMATCH, UNSIGNED_IGNORED)
        return IntakeResult(
            recorded.event_id, recorded.duplicate, matched, outcome, status if matched else None
        )

    def _process(self, event: RefundWebhookEvent) -> tuple[str, str | None, str | None]:
        """(outcome, the refund's status, the partnerReference of the payment holding the refund)."""
        reference = event.partner_refund_reference
        owner = self._refunds.owner(reference) if is_partner_reference(reference) else None
        payment = None if owner is None else self._refunds.get(owner)
        refund = None if payment is None else payment.refund(reference)
        if payment is None or refund is None:
            logger.info("refund webhook for a refund that is not ours", extra={"refundReference": reference})
            return UNMATCHED, None, None
        owner = payment.partner_reference
        # The refund named the payment by its reference or by its transaction id (§15, RefundTransactionReference).
        if event.transaction_reference not in (payment.reference, payment.transaction_id):
            logger.warning("refund webhook names another payment", extra={"refundReference": reference})
            count("StatusRejected", reason=REFERENCE_MISMATCH)
            return REFERENCE_MISMATCH, None, owner
        if (event.amount is not None and event.amount != refund.amount) or (
            event.currency_code is not None and event.currency_code != refund.currency_code
        ):
            logger.error(
                "refund webhook amount or currency does not match", extra={"refundReference": reference}
            )
            count("StatusRejected", reason=AMOUNT_MISMATCH)
            return AMOUNT_MISMATCH, refund.status, owner
        try:
            transition = self._refunds.apply_status(
                payment.partner_reference,
                reference,
                event.status,
                source="webhook",
                pay1st_refund_reference=event.refund_reference,
                handling_type=event.handling_type,
            )
        except ReferenceMismatch:
            logger.warning("refund webhook for another Pay1st refund", extra={"refundReference": reference})
            count("StatusRejected", reason=REFERENCE_MISMATCH)
            return REFERENCE_MISMATCH, None, owner
        if transition.applied:
            count("RefundTransition", status=transition.status)
            self._publisher.publish(list(transition.events), self._refunds)
        elif transition.verdict is Verdict.CONFLICT:
            logger.error(
                "conflicting final refund status",
                extra={
                    "refundReference": reference,
                    "recorded": transition.previous_status,
                    "reported": event.status,
                },
            )
            count("RefundStatusConflict")
        return transition.verdict.value, transition.refund.status, owner


def _check_text(event: RefundWebhookEvent) -> None:
    """Text that cannot be UTF-8 encoded (a lone surrogate) cannot be stored or logged: an invalid event."""
    fields = {
        "partnerRefundReference": event.partner_refund_reference,
        "transactionReference": event.transaction_reference,
        "status": event.status,
        "refundReference": event.refund_reference,
        "currencyCode": event.currency_code,
        "handlingType": event.handling_type,
    }
    require_text(fields)
