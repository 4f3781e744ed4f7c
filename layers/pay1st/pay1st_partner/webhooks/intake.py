"""Webhook intake (contract §10): verify, record durably, then apply; a webhook is a hint, never proof.

Order, and why:

1. size limit (413): the route is public;
2. authentication over the RAW body, before parsing (:mod:`pay1st_partner.webhooks.auth`: the
   ``signing-key`` and ``basic-auth`` schemes, ``WEBHOOK_SIGNATURE_MODE``; 401 ``missing_signature`` /
   ``invalid_signature`` / ``stale_timestamp``, the rejection kept a week with its diagnosis); with
   mode ``off`` an unsigned event is accepted, a signed one is still verified;
3. durable record in WebhookEventsTable, or 503 ``not_recorded`` so the gateway retries. A replay of an
   event whose processing already finished answers 2xx right there, with no read and no gateway call
   (``basic-auth`` events are keyed on the trimmed body the signature covers, so whitespace around a
   replayed body does not make it new);
4. parse (400 ``invalid_json`` / ``invalid_request``; the raw event stays recorded for investigation);
   text that is not valid Unicode (a lone UTF-16 surrogate in a JSON escape) is an invalid event too,
   caught here because neither DynamoDB nor the logs can store it;
   an event naming another partner than the configured ``PAY1ST_PARTNER_CODE``/``PAY1ST_PARTNER_ID`` is
   a Pay1st misrouting: recorded with outcome ``wrong_partner``, alarmed, logged as an error, never
   applied, and answered 2xx (a 4xx would only make Pay1st retry an event no retry can fix);
5. match it to our payment (``partnerReference``, the Pay1st ``reference``, amount and currency); the
   ``partnerReference`` may name any attempt of a payment (``pay1st_partner.payments.attempts``): a superseded
   attempt's report is ignored (``superseded_attempt``) unless it is a SUCCESSFUL the gateway confirms;
6. apply: SUCCESSFUL only after the gateway confirms it with a §9 status query; adopting a payment whose
   create answer was lost also goes through that query; other known statuses of a *signed* event are
   applied directly (conditional, never regressing; an in-progress step beside the status: ``payments.steps``);
   unknown statuses are recorded and never applied.
   An event that was not signature-verified (mode ``off``) could come from anyone, so whatever status it
   names only prompts a status query, and the gateway's answer is applied instead;
7. answer.

The answer rule: 2xx once the event is recorded AND applied, or safely ignorable (duplicates, late events,
payments that are not ours), or its confirmation is OWED: a signed report that needs a status query (any
attempt, any status, reversals included) whose query slot is taken or whose query fails is recorded on the
payment as a confirmation owed (which Pay1st reference, what it reported, since when) and the payment is
due when the slot frees; only once that is written is it answered 2xx (``confirmation_owed``), and the
status poller pays it first, for open and final payments alike (:mod:`pay1st_partner.payments.owed`, DESIGN
§9). Rationing bounds the queries; it never decides whether a signal counts, and Pay1st's redelivery is
never relied on. 503 ``not_recorded`` when the event could not be recorded; 503 ``not_applied`` when it
was recorded but processing (or the owed record) failed, e.g. a DynamoDB throttle: the gateway then
delivers it again, which is harmless because processing is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from pay1st.errors import ValidationError
from pay1st.models import WebhookEvent
from pay1st.webhooks import trim_body

from pay1st_partner import state
from pay1st_partner.clock import utcnow
from pay1st_partner.errors import InvalidRequest, NotApplied, PayloadTooLarge
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.attempts import (
    DOUBLE_PAID,
    PAID_AFTER_CLOSE,
    SUPERSEDED,
    attempt_entry,
    attempt_references,
)
from pay1st_partner.payments.outcomes import UNCONFIRMED
from pay1st_partner.payments.owed import CONFIRMATION_OWED
from pay1st_partner.payments.reconcile import (
    AMOUNT_MISMATCH,
    REFERENCE_MISMATCH,
    Outcome,
    Reconciler,
)
from pay1st_partner.payments.repository import PaymentRepository
from pay1st_partner.records import PaymentRecord
from pay1st_partner.references import is_attempt_reference, is_partner_reference
from pay1st_partner.request_fields import parse_json_object, require_text
from pay1st_partner.store.port import WebhookReceipt
from pay1st_partner.webhooks.auth import BASIC_AUTH_SCHEME, WRONG_PARTNER, WebhookAuthenticator
from pay1st_partner.webhooks.event_store import RecordedWebhook, WebhookEventStore, event_id
from pay1st_partner.webhooks.results import MAX_WEBHOOK_BYTES, UNMATCHED, IntakeResult

# Outcomes after which processing the same event again cannot change anything (a replay is answered from
# the record); absent: "received" (in progress or crashed), "not_applied", unconfirmed queries (a redelivery
# or replay may confirm an owed one before the poller does), and invalid events (answered 400 again).
_APPLIED = frozenset({"applied", "duplicate", "stale", "conflict", "in_progress"})
_FINISHED = _APPLIED | {UNMATCHED, AMOUNT_MISMATCH, REFERENCE_MISMATCH, WRONG_PARTNER, "unknown_status"}
_FINISHED |= {"no_reference", SUPERSEDED, DOUBLE_PAID, PAID_AFTER_CLOSE}


class WebhookIntake:
    def __init__(
        self,
        *,
        store: WebhookEventStore,
        payments: PaymentRepository,
        reconciler: Reconciler,
        authenticator: WebhookAuthenticator | None = None,
        signing_key: Callable[[], str] | None = None,
        signature_required: bool = True,
        tolerance_seconds: float = 300.0,
        max_bytes: int = MAX_WEBHOOK_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``authenticator`` (the shared one); else one is built from ``signing_key``/``signature_required``."""
        self._store = store
        self._payments = payments
        self._reconciler = reconciler
        self._authenticator = authenticator or WebhookAuthenticator(
            signing_key,
            signature_required=signature_required,
            tolerance_seconds=tolerance_seconds,
            clock=clock,
        )
        self._max_bytes = max_bytes
        self._clock = clock

    @property
    def authenticator(self) -> WebhookAuthenticator:
        """Who may post webhooks: shared with the refund webhook route (``pay1st_partner.webhooks.refund_intake``)."""
        return self._authenticator

    def handle(
        self, raw_body: bytes, headers: Mapping[str, str], *, deadline: float | None = None
    ) -> IntakeResult:
        if len(raw_body) > self._max_bytes:
            self._rejected("payload_too_large")
            raise PayloadTooLarge()
        auth = self._authenticator.authenticate(raw_body, headers)  # WebhookRejected → 401
        verified = auth.verified
        key = event_id(trim_body(raw_body)) if auth.scheme == BASIC_AUTH_SCHEME else None
        if key is None:
            recorded = self._store.record(raw_body, signature_verified=verified)  # NotRecorded → 503
        else:
            recorded = self._store.record(raw_body, signature_verified=verified, key=key)
        if recorded.duplicate and recorded.previous_outcome in _FINISHED:
            return self._replayed(recorded.event_id, recorded.previous_outcome)
        try:
            event = WebhookEvent.from_dict(parse_json_object(raw_body))
            _check_text(event)
        except InvalidRequest:
            self._store.set_outcome(recorded.event_id, "invalid_json")
            self._rejected("invalid_json")
            raise
        except ValidationError as exc:
            self._store.set_outcome(recorded.event_id, "invalid_event", field=exc.field)
            self._rejected("invalid_event")
            raise InvalidRequest(f"Invalid webhook event: {exc}", code="invalid_request") from None

        foreign = self._authenticator.foreign_partner(event.partner_id, event.partner_code)
        if foreign is not None:
            return self._wrong_partner(recorded, event, foreign, verified=verified)

        count("WebhookAccepted")
        log = {
            "partnerReference": event.partner_reference,
            "reference": event.reference,
            "reported_status": event.status,
            "event_id": recorded.event_id,
            "duplicate": recorded.duplicate,
            "signature_verified": verified,
        }
        logger.info("webhook received", extra=log)
        details = {
            "partnerReference": event.partner_reference,
            "reference": event.reference,
            "reportedStatus": event.status,
            "signatureScheme": auth.scheme,
        }
        # An applied transition carries the outcome in its own write (no separate outcome write).
        receipt = self._store.receipt(recorded.event_id, state.Verdict.APPLY.value, **details)
        try:
            result = self._process(event, verified=verified, deadline=deadline, receipt=receipt)
            if verified and result is not None and result.outcome in UNCONFIRMED:
                result = self._owe(event, result.record)  # recorded before the 2xx, or a 503
        except Exception as exc:  # whatever failed, the event is recorded but not applied: ask for a retry
            logger.exception(
                "webhook recorded but not applied", extra={**log, "error_type": type(exc).__name__}
            )
            count("WebhookNotApplied")
            self._store.set_outcome(recorded.event_id, "not_applied")
            raise NotApplied() from exc
        matched = result is not None and result.outcome != REFERENCE_MISMATCH
        outcome = result.outcome if result is not None else UNMATCHED
        if result is None or not result.applied:
            self._store.set_outcome(recorded.event_id, outcome, **details)
        logger.info("webhook processed", extra={**log, "outcome": outcome})
        return IntakeResult(
            event_id=recorded.event_id,
            duplicate=recorded.duplicate,
            matched=matched,
            outcome=outcome,
            status=result.record.status if result is not None and matched else None,
        )

    def _process(
        self, event: WebhookEvent, *, verified: bool, deadline: float | None, receipt: WebhookReceipt
    ) -> Outcome | None:
        # Every partnerReference we create matches this pattern; anything else (an oversized key would
        # even be a DynamoDB error) cannot be ours.
        # An attempt's reference (the partnerReference, or a derived one: ``pay1st_partner.payments.attempts``) maps
        # to the payment; one we never made names nothing, exactly like a stranger's partnerReference.
        ours = is_partner_reference(event.partner_reference)
        found: tuple[PaymentRecord, str] | None = None
        slot_taken = False
        if (
            ours
            and verified
            and event.status == state.SUCCESSFUL
            and not is_attempt_reference(event.partner_reference)
        ):
            # Confirmed with a status query before it counts: the read also takes the query slot (one call).
            record, slot_taken = self._reconciler.read_for_confirmation(
                event.partner_reference,
                report=event.status,
                reference=event.reference,
                currency_code=event.currency_code,
                amount=event.order_amount,
            )
            if record is not None and event.partner_reference in attempt_references(record):
                found = (record, event.partner_reference)
        elif ours:
            found = self._payments.attempts().find(event.partner_reference)
        if found is None:
            logger.info(
                "webhook for a payment that is not ours", extra={"partnerReference": event.partner_reference}
            )
            return None
        record, attempt_reference = found
        if attempt_reference != record.gateway_reference:
            return self._superseded(
                record, attempt_reference, event, verified=verified, deadline=deadline, slot_taken=slot_taken
            )
        if record.reference is not None and record.reference != event.reference:
            logger.warning(
                "webhook reference does not match the payment",
                extra={"partnerReference": event.partner_reference, "reference": event.reference},
            )
            count("StatusRejected", reason=REFERENCE_MISMATCH)
            return Outcome(REFERENCE_MISMATCH, record)
        if event.order_amount != record.amount or event.currency_code != record.currency_code:
            logger.error(
                "webhook amount or currency does not match the payment",
                extra={"partnerReference": event.partner_reference, "reference": event.reference},
            )
            count("StatusRejected", reason=AMOUNT_MISMATCH)
            return Outcome(AMOUNT_MISMATCH, record)

        if verified:  # a transaction id (§15) from Pay1st itself; an unsigned event's comes with the query
            record = self._payments.note_transaction_id(record, event.transaction_id)
        if verified and event.status in state.REVERSAL_STATUSES and record.status == state.SUCCESSFUL:
            if event.status in record.reversals:  # already recorded: a replay costs no status query
                return Outcome(state.Verdict.SAME.value, record)
            # A reversal (§9, §16) counts only once the gateway's status query confirms it.
            return self._reconciler.refresh(record, source="webhook", deadline=deadline, authenticated=True)
        decision = state.decide(record.status, event.status)
        needs_confirmation = decision.applies and (
            event.status == state.SUCCESSFUL or record.reference is None
        )
        if not verified or needs_confirmation:
            # The event only prompts a status query; the gateway's own answer is what gets applied. Unsigned
            # (WEBHOOK_SIGNATURE_MODE=off), anyone could have sent it: applying its FAILED or CANCELLED directly
            # would finalise the payment and block the real SUCCESSFUL. Signed, a SUCCESSFUL or an adoption
            # is confirmed: the gateway may be further along, or not paid at all. (Unsigned, no slot is taken.)
            return self._reconciler.refresh(
                record,
                source="webhook",
                reference=event.reference,
                deadline=deadline,
                authenticated=verified,
                receipt=receipt,
                slot_taken=slot_taken,
            )
        if record.reference is None and decision.verdict is not state.Verdict.UNKNOWN:
            # Not adopting without the gateway's confirmation: nothing to apply.
            return Outcome(decision.verdict.value, record)
        return self._reconciler.apply(
            record, event.status, source="webhook", reference=event.reference, receipt=receipt
        )

    def _superseded(
        self,
        record: PaymentRecord,
        attempt_reference: str,
        event: WebhookEvent,
        *,
        verified: bool,
        deadline: float | None,
        slot_taken: bool = False,
    ) -> Outcome:
        """A report of an attempt the payment no longer follows: only a confirmed SUCCESSFUL counts."""
        log = {"partnerReference": record.partner_reference, "attemptReference": attempt_reference}
        if event.order_amount != record.amount or event.currency_code != record.currency_code:
            count("StatusRejected", reason=AMOUNT_MISMATCH)
            return Outcome(AMOUNT_MISMATCH, record)
        paid = bool((attempt_entry(record, attempt_reference) or {}).get("paidAt"))
        if event.status != state.SUCCESSFUL or paid:
            # Nobody holds its link: its failing, cancelling or expiring says nothing about the payment.
            logger.info(
                "report of a superseded attempt ignored", extra={**log, "reported_status": event.status}
            )
            count("SupersededAttemptReport", status=event.status)
            return Outcome(state.Verdict.SAME.value if paid else SUPERSEDED, record)
        return self._reconciler.confirm_attempt(
            record,
            attempt_reference,
            event.reference,
            source="webhook",
            deadline=deadline,
            authenticated=verified,
            slot_taken=slot_taken,
        )

    def _owe(self, event: WebhookEvent, record: PaymentRecord) -> Outcome:
        """The report could not be confirmed now (slot taken, query failed): owed, paid by the poller."""
        after = self._payments.owed().owe(
            record,
            attempt_reference=event.partner_reference,
            reference=event.reference,
            reported=event.status,
            due_in=self._reconciler.min_query_interval,
        )
        return Outcome(CONFIRMATION_OWED, after)

    def _replayed(self, key: str, previous: str) -> IntakeResult:
        """An event already processed to the end: answered from its record (no read, no gateway call)."""
        outcome = "duplicate" if previous in _APPLIED else previous
        if outcome != previous:
            self._store.set_outcome(key, outcome)
        count("WebhookReplayed")
        logger.info("webhook replayed", extra={"event_id": key, "outcome": outcome})
        matched = outcome not in (UNMATCHED, REFERENCE_MISMATCH, WRONG_PARTNER)
        return IntakeResult(event_id=key, duplicate=True, matched=matched, outcome=outcome)

    def _wrong_partner(
        self, recorded: RecordedWebhook, event: WebhookEvent, why: str, *, verified: bool
    ) -> IntakeResult:
        key = recorded.event_id
        # Signed with our key yet for another partner: Pay1st misrouted it. Loud, alarmed, never applied.
        named = {
            "partnerId": event.partner_id,
            "partnerCode": event.partner_code,
            "partnerReference": event.partner_reference,
        }
        logger.error(
            "webhook for another partner refused (Pay1st misrouting?)",
            extra={"event_id": key, "why": why, **named, "signature_verified": verified},
        )
        self._rejected(WRONG_PARTNER)
        self._store.set_outcome(key, WRONG_PARTNER, **named)
        return IntakeResult(event_id=key, duplicate=recorded.duplicate, matched=False, outcome=WRONG_PARTNER)

    @staticmethod
    def _rejected(reason: str) -> None:
        count("WebhookRejected", reason=reason)


def _check_text(event: WebhookEvent) -> None:
    """Reject text that cannot be UTF-8 encoded (a lone surrogate from a ``\\ud800`` JSON escape).

    Such a string cannot be written to DynamoDB or logged; caught here, the event is an invalid one
    (recorded, 400) instead of failing every later write.
    """
    fields = {
        "partnerReference": event.partner_reference,
        "reference": event.reference,
        "status": event.status,
        "currencyCode": event.currency_code,
        "countryCode": event.country_code,
        "partnerId": event.partner_id,
        "partnerCode": event.partner_code,
    }
    require_text(fields)
