"""Payment events to the partner's systems, on EventBridge, after the state change is committed.

Events (``source`` = ``pay1st.partner``), one per status a payment reaches:

=====================  =============  ===============================================
detail-type            status         meaning for the partner
=====================  =============  ===============================================
``Payment Pending``    PENDING        processing (offline/cash methods): wait
``Payment Succeeded``  SUCCESSFUL     paid, confirmed with the gateway: fulfil now
``Payment Failed``     FAILED         the payment failed
``Payment Cancelled``  CANCELLED      the customer cancelled
``Payment Abandoned``  ABANDONED      not completed; the gateway expired the session
=====================  =============  ===============================================

There is no event for NEW: the partner learns of it synchronously from ``POST /payments``.
``Payment Under Investigation`` (PENDING_INVESTIGATION: held for a risk review, not paid yet) is one of
these too. ``Payment In Progress``: the customer is mid-payment (an in-progress step, §9: SEND_OTP,
SEND_PIN, SEND_PHONE, SEND_BIRTHDAY, SEND_VALIDATION_TOKEN, PAY_OFFLINE, READY, VALIDATED); ``detail`` adds
``step``, ``status`` is the payment's (still open, never paid); ``eventId`` is
``"{partnerReference}:step:{step}"``. Rate-limited per payment (``pay1st_partner.payments.steps``): at most
one per step, and at most one per ``STEP_EVENT_MIN_INTERVAL_SECONDS``; the status route's ``step`` always
shows the latest. After SUCCESSFUL (contract §15, §16), each at most once:

- ``Refund Requested`` / ``Refund Succeeded`` / ``Refund Failed`` (FAILED or REJECTED, in ``status``) per
  refund: ``detail`` adds ``refundReference``, ``pay1stRefundReference``, ``handlingType`` and the refund's
  ``amount``; ``eventId`` is ``"{partnerReference}:refund:{refundReference}:{requested|succeeded|failed}"``;
- ``Payment Charged Back`` / ``Payment Refunded``: a CHARGEBACK / REFUND confirmed by the gateway's status
  query; ``eventId`` is ``"{partnerReference}:{CHARGEBACK|REFUND}"``. Revoke what was delivered.

``detail`` is ``{eventId, partnerReference, reference, status, previousStatus, amount (decimal string),
currencyCode, countryCode, occurredAt}``. ``eventId`` is ``"{partnerReference}:{status}"``: a status is
reached at most once, so the id is stable and unique, and consumers dedupe on it (delivery is
at-least-once: a publisher may die after EventBridge accepted an event and before clearing it).

A payment with more than one attempt (``pay1st_partner.payments.attempts``) adds ``attemptReference`` and
``supersededAttempts`` to its events' ``detail``. ``Payment Paid Twice`` (``eventId``
``"{partnerReference}:PAID_TWICE:{attemptReference}"``, with ``doublePaid`` and ``paidAttempt``): a superseded
attempt of a SUCCESSFUL payment was paid too (one of them needs a refund), or a second superseded attempt of a
payment closed unpaid was (``status`` the closed one).

How nothing is lost: the transition and its event are written in one conditional update (the item's
``outbox``, see ``pay1st_partner.store.items``). :meth:`EventPublisher.publish` then sends the events and
clears each one EventBridge accepted. Whatever is left (a crash, an EventBridge error) is re-published by
the status poller once it is older than a minute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from pay1st_partner import refund_state, state
from pay1st_partner.clock import parse_iso
from pay1st_partner.observability import count, logger
from pay1st_partner.outbox import OutboxEvent
from pay1st_partner.records import amount_text

if TYPE_CHECKING:
    from pay1st_partner.records import PaymentRecord, RefundRecord

EVENT_SOURCE = "pay1st.partner"

# put_events takes at most 10 entries per call.
_MAX_ENTRIES = 10


def payment_detail(
    record: PaymentRecord,
    event_id: str,
    *,
    status: str,
    previous_status: str | None,
    reference: str | None,
    occurred_at: str,
) -> dict[str, Any]:
    """The ``detail`` every payment event carries (a payment's ``eventId``, status and money), with its
    attempts when it has more than one."""
    detail: dict[str, Any] = {
        "eventId": event_id,
        "partnerReference": record.partner_reference,
        "reference": reference,
        "status": status,
        **({} if previous_status is None else {"previousStatus": previous_status}),
        "amount": amount_text(record.amount),
        "currencyCode": record.currency_code,
        "countryCode": record.country_code,
        "occurredAt": occurred_at,
    }
    if record.attempts:  # only for payments with more than one attempt (README "Attempts")
        detail["attemptReference"] = record.gateway_reference
        detail["supersededAttempts"] = [entry["partnerReference"] for entry in record.attempts]
    return detail


def payment_event(
    record: PaymentRecord, status: str, *, reference: str | None, occurred_at: str
) -> OutboxEvent | None:
    """The event for ``record`` reaching ``status`` (None for a status without one, e.g. NEW)."""
    detail_type = state.detail_type(status)
    if detail_type is None:
        return None
    event_id = f"{record.partner_reference}:{status}"
    detail = payment_detail(
        record,
        event_id,
        status=status,
        previous_status=record.status,
        reference=reference,
        occurred_at=occurred_at,
    )
    return OutboxEvent(event_id, record.partner_reference, detail_type, detail)


def standing_event(
    record: PaymentRecord, event_id: str, detail_type: str, *, occurred_at: str, **extra: Any
) -> OutboxEvent:
    """An event about ``record`` that changes no status (a step reached, a second attempt paid): its detail
    as the payment stands, then ``extra``."""
    detail = payment_detail(
        record,
        event_id,
        status=record.status,
        previous_status=None,
        reference=record.reference,
        occurred_at=occurred_at,
    )
    return OutboxEvent(event_id, record.partner_reference, detail_type, {**detail, **extra})


def step_event(record: PaymentRecord, step: str, *, occurred_at: str) -> OutboxEvent:
    """``Payment In Progress`` for ``record`` reaching the in-progress ``step`` (its status unchanged)."""
    event_id = f"{record.partner_reference}:step:{step}"
    return standing_event(record, event_id, state.STEP_DETAIL_TYPE, occurred_at=occurred_at, step=step)


REVERSAL_DETAIL_TYPES: Mapping[str, str] = {
    "CHARGEBACK": "Payment Charged Back",
    "REFUND": "Payment Refunded",
}


def reversal_event(record: PaymentRecord, kind: str, *, occurred_at: str) -> OutboxEvent:
    """The event for a confirmed reversal (``kind`` REFUND or CHARGEBACK) of a SUCCESSFUL payment."""
    event_id = f"{record.partner_reference}:{kind}"
    detail = payment_detail(
        record,
        event_id,
        status=kind,
        previous_status=record.status,
        reference=record.reference,
        occurred_at=occurred_at,
    )
    return OutboxEvent(event_id, record.partner_reference, REVERSAL_DETAIL_TYPES[kind], detail)


def refund_events(
    refund: RefundRecord,
    status: str,
    *,
    reference: str | None,
    pay1st_refund_reference: str | None,
    handling_type: str | None,
    occurred_at: str,
) -> tuple[OutboxEvent, ...]:
    """The events of ``refund`` moving to ``status`` (see ``refund_state.detail_types``)."""
    events = []
    for detail_type in refund_state.detail_types(refund.status, status):
        suffix = detail_type.rsplit(" ", 1)[-1].lower()  # requested, succeeded, failed
        event_id = f"{refund.partner_reference}:refund:{refund.refund_reference}:{suffix}"
        detail = {
            "eventId": event_id,
            "partnerReference": refund.partner_reference,
            "reference": reference,
            "refundReference": refund.refund_reference,
            "pay1stRefundReference": pay1st_refund_reference or refund.pay1st_refund_reference,
            "status": status,
            "previousStatus": refund.status,
            "amount": amount_text(refund.amount),
            "currencyCode": refund.currency_code,
            "handlingType": handling_type or refund.handling_type,
            "occurredAt": occurred_at,
        }
        events.append(OutboxEvent(event_id, refund.partner_reference, detail_type, detail))
    return tuple(events)


class Outbox(Protocol):
    def clear_event(self, partner_reference: str, event_id: str) -> None: ...


class EventPublisher:
    def __init__(self, bus_name: str, *, client: Any) -> None:
        self._bus = bus_name
        self._client = client

    def _entry(self, event: OutboxEvent) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Source": EVENT_SOURCE,
            "DetailType": event.detail_type,
            "Detail": json.dumps(dict(event.detail), separators=(",", ":")),
            "EventBusName": self._bus,
        }
        occurred_at = event.detail.get("occurredAt")
        if isinstance(occurred_at, str):
            entry["Time"] = parse_iso(occurred_at)
        return entry

    def publish(self, events: Sequence[OutboxEvent], outbox: Outbox) -> list[OutboxEvent]:
        """Send ``events`` and clear each accepted one from ``outbox``; returns the ones sent.

        Never raises for EventBridge or DynamoDB trouble: the events stay in the outbox and the poller
        sends them later, so a committed transition is never turned into a failed request.
        """
        published: list[OutboxEvent] = []
        for start in range(0, len(events), _MAX_ENTRIES):
            chunk = events[start : start + _MAX_ENTRIES]
            try:
                response = self._client.put_events(Entries=[self._entry(event) for event in chunk])
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "events not published; the poller will retry",
                    extra={"error_type": type(exc).__name__, "event_ids": [e.event_id for e in chunk]},
                )
                continue
            for event, result in zip(chunk, response.get("Entries", []), strict=False):
                if result.get("ErrorCode") or not result.get("EventId"):
                    logger.warning(
                        "event rejected by EventBridge; the poller will retry",
                        extra={
                            "partnerReference": event.partner_reference,
                            "event_id": event.event_id,
                            "error_code": result.get("ErrorCode"),
                        },
                    )
                    continue
                published.append(event)
                self._clear(outbox, event)
        if published:
            count("EventsPublished", len(published))
            logger.info("events published", extra={"event_ids": [e.event_id for e in published]})
        return published

    @staticmethod
    def _clear(outbox: Outbox, event: OutboxEvent) -> None:
        try:
            outbox.clear_event(event.partner_reference, event.event_id)
        except (ClientError, BotoCoreError) as exc:
            # Published but still in the outbox: the poller sends it again; consumers dedupe on eventId.
            logger.warning(
                "published event not cleared",
                extra={
                    "partnerReference": event.partner_reference,
                    "event_id": event.event_id,
                    "error_type": type(exc).__name__,
                },
            )
