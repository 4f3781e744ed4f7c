"""Create-refund use case (contract §15): validate → claim → gateway refund request → mark, like create payment.

``POST /payments/{partnerReference}/refunds`` with ``{"refundReference", "amount"?, "reason"?}``; ``amount``
omitted means all that is still refundable. Idempotent on ``refundReference`` exactly as create is on
``partnerReference`` (see :mod:`pay1st_partner.payments.create`):

- a repeat of the same request returns the same refund with no second gateway call;
- the same refundReference for another amount or another payment → 409 ``refund_conflict``;
- a claim whose gateway call is still in flight → 409 ``refund_in_progress`` (one left ``CREATING`` longer
  than any invocation can run is treated as ``CREATE_UNKNOWN``);
- an unknown outcome → kept as ``CREATE_UNKNOWN`` and 502 ``refund_outcome_unknown``. A repeat asks the
  gateway again with the SAME partnerRefundReference: the gateway refuses a second refund under it, so
  this can never refund twice, and it rescues a request that never arrived. The refund webhook (which
  names our partnerRefundReference) resolves one that did;
- a clean refusal releases the claim (and its reserved amount) and surfaces the gateway's errorCode; the
  gateway unreachable before sending → claim released, 502 ``gateway_unavailable``.

The refund's events (``Refund Requested``, and at once ``Refund Failed`` for a NO_REFUND answer) are
committed with its status and published after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pay1st.errors import Pay1stAPIError
from pay1st.models import CreatedRefund, RefundRequest

from pay1st_partner import refund_state
from pay1st_partner.errors import (
    GatewayRejected,
    InvalidRequest,
    PaymentConflict,
    RefundOutcomeUnknown,
)
from pay1st_partner.gateway_calls import ClaimActions, is_abandoned_claim, settle_failed_call
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.callbacks import refund_webhook_url
from pay1st_partner.records import ReferenceMismatch
from pay1st_partner.refunds.reference import (
    PARAMETER,
    PAYMENT_REFERENCE,
    is_reference_refusal,
    reference_refused,
    refund_target,
)
from pay1st_partner.request_fields import reject_unknown, required_reference, required_string

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient

    from pay1st_partner.events import EventPublisher
    from pay1st_partner.records import PaymentRecord, RefundRecord
    from pay1st_partner.refunds.repository import RefundRepository

_FIELDS = frozenset({"refundReference", "amount", "reason"})
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class RefundCommand:
    refund_reference: str
    amount: Decimal | None  # None: all that is still refundable
    reason: str | None


@dataclass(frozen=True)
class RefundResult:
    payment: PaymentRecord
    refund: RefundRecord
    created: bool  # False: an idempotent repeat

    def to_body(self) -> dict[str, Any]:
        from pay1st_partner.payments.views import refund_view

        return refund_view(self.payment, self.refund)


def parse_refund_request(body: Mapping[str, Any]) -> RefundCommand:
    """Validate the request body; errors are 400s naming the field."""
    reject_unknown(body, _FIELDS)
    refund_reference = required_reference(body, "refundReference")
    raw = body.get("amount")
    amount: Decimal | None = None
    if raw is not None:
        if isinstance(raw, bool) or not isinstance(raw, Decimal | int | str):
            raise InvalidRequest("amount: must be a number")
        if isinstance(raw, str) and _PLAIN_DECIMAL.fullmatch(raw) is None:
            raise InvalidRequest("amount: must be a plain decimal number such as 10 or 10.50")
        amount = Decimal(raw)
        if not amount.is_finite() or amount <= 0:
            raise InvalidRequest("amount: must be greater than zero")
        if amount.adjusted() > 15:
            raise InvalidRequest("amount: is too large")
    reason = None if body.get("reason") is None else required_string(body, "reason", max_length=255)
    return RefundCommand(refund_reference, amount, reason)


def create_refund(
    partner_reference: str,
    command: RefundCommand,
    *,
    base_url: str,
    refunds: RefundRepository,
    gateway: Pay1stClient,
    publisher: EventPublisher,
    deadline: float | None = None,
    reference_mode: str = PAYMENT_REFERENCE,
) -> RefundResult:
    """``reference_mode``: what the request's ``transactionReference`` names (``RefundTransactionReference``,
    :mod:`pay1st_partner.refunds.reference`)."""
    claim = refunds.claim(partner_reference, command.refund_reference, command.amount, command.reason)
    refund = claim.refund
    if not claim.created:
        if refund.status == refund_state.CREATING:
            if not is_abandoned_claim(refund.updated_at, datetime.now(UTC)):
                raise PaymentConflict(
                    "This refund is still being requested; retry shortly.", code="refund_in_progress"
                )
            refunds.mark_unknown(partner_reference, refund.refund_reference)
        elif refund.status != refund_state.CREATE_UNKNOWN:
            logger.info(
                "refund repeated",
                extra={"partnerReference": partner_reference, "refundReference": refund.refund_reference},
            )
            return RefundResult(claim.payment, refund, False)
        # CREATE_UNKNOWN (or an abandoned CREATING): ask again with the same partnerRefundReference.

    try:
        target = refund_target(claim.payment, reference_mode)
    except PaymentConflict:
        if claim.created:  # nothing was sent: free the claim (a repeat of an unknown one stays unknown)
            refunds.release(partner_reference, refund)
        raise
    request = RefundRequest(
        transaction_reference=target,
        partner_refund_reference=refund.refund_reference,
        amount=refund.amount,  # always explicit: what we reserved is what is refunded
        reason=refund.reason,
        refund_webhook_url=refund_webhook_url(base_url),
    )
    try:
        created = _request_at_gateway(
            request, refund, claim_is_new=claim.created, refunds=refunds, gateway=gateway, deadline=deadline
        )
    except GatewayRejected as refused:
        cause = refused.__cause__
        if isinstance(cause, Pay1stAPIError) and is_reference_refusal(cause):
            logger.warning(
                "refund refused because of its transactionReference",
                extra={"partnerReference": partner_reference, PARAMETER: reference_mode},
            )
            count("RefundReferenceRefused", mode=reference_mode)
            raise reference_refused(claim.payment, reference_mode, cause) from cause
        raise
    # An answer in a status we do not know still means the gateway has the refund: it is PENDING to us.
    status = created.status if created.status in refund_state.GATEWAY_STATUSES else refund_state.PENDING
    try:
        transition = refunds.apply_status(
            partner_reference,
            refund.refund_reference,
            status,
            source="create",
            pay1st_refund_reference=created.refund_reference,
            handling_type=created.handling_type,
        )
    except ReferenceMismatch:
        # A webhook adopted another Pay1st refund for our refundReference meanwhile: never overwrite it.
        logger.error(
            "refund answered with another Pay1st reference than the one recorded",
            extra={"partnerReference": partner_reference, "refundReference": refund.refund_reference},
        )
        raise PaymentConflict(
            "The refund changed while it was being requested.", code="refund_conflict"
        ) from None
    publisher.publish(list(transition.events), refunds)
    count("RefundsRequested")
    logger.info(
        "refund requested",
        extra={
            "partnerReference": partner_reference,
            "refundReference": refund.refund_reference,
            "status": transition.refund.status,
        },
    )
    return RefundResult(transition.payment, transition.refund, True)


def _request_at_gateway(
    request: RefundRequest,
    refund: RefundRecord,
    *,
    claim_is_new: bool,
    refunds: RefundRepository,
    gateway: Pay1stClient,
    deadline: float | None,
) -> CreatedRefund:
    partner_reference = refund.partner_reference
    log: dict[str, Any] = {"partnerReference": partner_reference, "refundReference": refund.refund_reference}
    try:
        return gateway.create_refund(request, deadline=deadline)
    except BaseException as exc:
        claim = ClaimActions(
            what="refund",
            call="refund",
            release=lambda: refunds.release(partner_reference, refund),
            mark_unknown=lambda: refunds.mark_unknown(partner_reference, refund.refund_reference),
            unknown_metric="RefundOutcomeUnknown",
        )
        answer = settle_failed_call(exc, claim_is_new=claim_is_new, claim=claim, log=log)
        if answer is exc:
            raise
        raise (answer or RefundOutcomeUnknown()) from exc
