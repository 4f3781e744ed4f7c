"""Create-payment use case: validate → fingerprint → claim → gateway create → mark created → checkout link.

Idempotent on ``partnerReference`` through the repository's conditional claim (not Powertools
Idempotency: its stored response would hold the checkout link, which carries an access token and must
never be stored, and it cannot answer our own 409 codes for a different body):

- a repeat with the same fingerprint returns the same payment with a fresh checkout link and no second
  gateway create;
- a currency its country does not pay in → 400 ``currency_mismatch``
  (:mod:`pay1st_partner.payments.currency_fit`), before anything is claimed;
- a different amount, currency, country or products for a claimed reference → 409 ``payment_conflict``;
- a claim whose create is still in flight → 409 ``create_in_progress``; a claim left ``CREATING`` for
  longer than any invocation can run (its Lambda was killed mid-call) is treated as ``CREATE_UNKNOWN``;
- a create whose outcome is unknown → the payment is kept as ``CREATE_UNKNOWN`` and 502
  ``create_outcome_unknown``. A repeat of such a request asks the gateway again with the SAME
  reference: that rescues a create that never arrived. If the gateway refuses it as a duplicate, the
  attempt exists at Pay1st but nobody can ever have its link (there is no lookup by partnerReference), so
  the same repeat makes a new attempt under a derived reference and answers with its link
  (:mod:`pay1st_partner.payments.attempts`); the earlier attempt can then never fail or cancel the payment;
- attempts run out: when the repeat of the last attempt (``MAX_ATTEMPTS``) is refused as a duplicate too, no
  link can exist for any of them; the payment ends (``attemptsExhaustedAt``, alarmed) and this and every later
  repeat answer 409 ``attempts_exhausted`` without calling Pay1st. The 502 says which attempt was lost;
- a clean refusal by the gateway releases the claim (the partner may correct and retry) and surfaces
  the gateway's errorCode, never its body or our tokens;
- the gateway unreachable (request known not sent, or retries exhausted) → claim released, 502
  ``gateway_unavailable``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pay1st.errors import (
    InvalidRequestError,
    Pay1stAPIError,
    Pay1stError,
)
from pay1st.models import CreatedPayment, PaymentRequest

from pay1st_partner import state
from pay1st_partner.errors import (
    AttemptsExhausted,
    CreateOutcomeUnknown,
    GatewayUnavailable,
    PaymentConflict,
)
from pay1st_partner.gateway_calls import ClaimActions, is_abandoned_claim, settle_failed_call
from pay1st_partner.observability import count, logger
from pay1st_partner.payments.create_request import (  # re-exported: the handler and tests import them from here
    MAX_QUANTITY,
    CreatePaymentCommand,
    parse_create_request,
)
from pay1st_partner.references import MAX_ATTEMPTS, attempt_number

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient

    from pay1st_partner.payments.methods import PaymentMethodsCache
    from pay1st_partner.payments.repository import PaymentRepository
    from pay1st_partner.records import PaymentRecord

__all__ = [
    "MAX_QUANTITY",
    "CreatePaymentCommand",
    "CreatePaymentResult",
    "create_payment",
    "parse_create_request",
]


@dataclass(frozen=True)
class CreatePaymentResult:
    record: PaymentRecord
    # Only while the customer can still pay (NEW/PENDING); never stored, never logged.
    checkout_url: str | None
    created: bool  # False: an idempotent repeat of an earlier request

    def to_body(self) -> dict[str, Any]:
        """The 201 body: the payment as GET /payments/{partnerReference} shows it, plus the checkout link."""
        from pay1st_partner.payments.views import payment_view

        return {**payment_view(self.record), "checkoutUrl": self.checkout_url}


# --- use case ---------------------------------------------------------------------------------------


def create_payment(
    command: CreatePaymentCommand,
    *,
    base_url: str,
    repository: PaymentRepository,
    gateway: Pay1stClient,
    callback_key: bytes,
    methods_cache: PaymentMethodsCache | None = None,
    deadline: float | None = None,
) -> CreatePaymentResult:
    from pay1st_partner.fingerprints import fingerprint, same
    from pay1st_partner.payments.currency_fit import require_currency_fits

    if command.channel_id is not None:
        # Before the claim: a channel the customer cannot use must not cost a payment at the gateway.
        from pay1st_partner.payments.methods import PaymentMethodsCache, require_active_channel

        require_active_channel(
            command.country_code,
            command.channel_id,
            gateway=gateway,
            cache=methods_cache or PaymentMethodsCache(0),
            deadline=deadline,
        )
    # After the channel's check, which fetched (and cached) the list when a channelId was given.
    require_currency_fits(command.country_code, command.currency_code, methods_cache)
    request = command.to_request(base_url, callback_key)
    digest = fingerprint(request)
    claim = repository.claim(request, digest, command.channel_id)
    if not claim.created:
        existing = claim.record
        if not same(existing.fingerprint, digest):
            raise PaymentConflict(
                "This partnerReference is already used for a payment with a different amount, currency, "
                "country or products.",
                code="payment_conflict",
            )
        if existing.status == state.CREATING:
            if not _is_stale(existing.updated_at):
                raise PaymentConflict(
                    "This payment is still being created; retry shortly.", code="create_in_progress"
                )
            logger.warning(
                "abandoned create claim taken over", extra={"partnerReference": existing.partner_reference}
            )
            repository.mark_outcome_unknown(existing.partner_reference)
        elif existing.attempts_exhausted_at is not None and existing.status == state.CREATE_UNKNOWN:
            raise AttemptsExhausted(len(existing.attempts) + 1)  # no attempt is left to ask Pay1st about
        elif existing.status != state.CREATE_UNKNOWN:
            logger.info("create repeated", extra={"partnerReference": existing.partner_reference})
            channel_id = command.channel_id or existing.channel_id
            return CreatePaymentResult(existing, _checkout(gateway, existing, channel_id, deadline), False)
        # CREATE_UNKNOWN (or an abandoned CREATING): ask again under the current attempt's reference (see
        # the module docstring).

    current = claim.record
    try:
        created = _create_at_gateway(
            replace(request, partner_reference=current.gateway_reference),
            partner_reference=request.partner_reference,
            claim_is_new=claim.created,
            repository=repository,
            gateway=gateway,
            deadline=deadline,
        )
    except _RefusedAsDuplicate:
        current = _next_attempt(repository, request.partner_reference)
        created = _create_at_gateway(
            replace(request, partner_reference=current.gateway_reference),
            partner_reference=request.partner_reference,
            claim_is_new=False,
            repository=repository,
            gateway=gateway,
            deadline=deadline,
            new_attempt=True,
        )
    # The claim's record saves a read; if anything moved the payment since, the conditional write notices.
    record = repository.mark_created(request.partner_reference, created, current=current)
    record = repository.note_transaction_id(record, created.transaction_id)  # §15, when Pay1st sends one
    count("PaymentsCreated")
    logger.info(
        "payment created",
        extra={"partnerReference": record.partner_reference, "reference": record.reference},
    )
    return CreatePaymentResult(record, _checkout(gateway, record, command.channel_id, deadline), True)


def _is_stale(updated_at: str) -> bool:
    return is_abandoned_claim(updated_at, datetime.now(UTC))


class _RefusedAsDuplicate(Exception):
    """A repeated unknown attempt refused by the gateway as a duplicate: it exists there, link unknown."""


def _is_duplicate(exc: Pay1stAPIError) -> bool:
    # The contract documents no error code for it; the sandbox's is DUPLICATE_PARTNER_REFERENCE. Any other
    # refusal of a repeat keeps the outcome unknown (never a new attempt on a guess).
    return isinstance(exc, InvalidRequestError) and "DUPLICATE" in (exc.error_code or "").upper()


def _next_attempt(repository: PaymentRepository, partner_reference: str) -> PaymentRecord:
    """Supersede the payment's unknown attempt with a new one (CREATING under a derived reference)."""
    record = repository.get(partner_reference)
    if record is None or record.status != state.CREATE_UNKNOWN:
        # A webhook adopted it meanwhile: the next repeat answers with its link.
        raise CreateOutcomeUnknown()
    started = repository.attempts().start_next(record, reason="duplicate_refused")
    if started is None:
        again = repository.get(partner_reference)
        if again is not None and again.status == state.CREATING:
            raise PaymentConflict(
                "This payment is still being created; retry shortly.", code="create_in_progress"
            )
        if len(record.attempts) + 1 >= MAX_ATTEMPTS:
            ended = repository.attempts().exhaust(record)
            if ended is not None:
                raise AttemptsExhausted(len(ended.attempts) + 1)
        logger.error("no new attempt could be made", extra={"partnerReference": partner_reference})
        raise CreateOutcomeUnknown()
    return started


def _create_at_gateway(
    request: PaymentRequest,
    *,
    partner_reference: str,
    claim_is_new: bool,
    repository: PaymentRepository,
    gateway: Pay1stClient,
    deadline: float | None,
    new_attempt: bool = False,
) -> CreatedPayment:
    """Create ``request`` (under its attempt's reference) at the gateway for the payment ``partner_reference``."""
    log_extra: dict[str, Any] = {"partnerReference": partner_reference}
    if request.partner_reference != partner_reference:
        log_extra["attemptReference"] = request.partner_reference
    try:
        return gateway.create_payment(request, deadline=deadline)
    except BaseException as exc:
        if not claim_is_new and not new_attempt and isinstance(exc, Pay1stAPIError) and _is_duplicate(exc):
            logger.warning("retried create refused as a duplicate; a new attempt follows", extra=log_extra)
            raise _RefusedAsDuplicate() from exc
        claim = ClaimActions(
            what="payment",
            call="create",
            release=lambda: repository.release_claim(partner_reference),
            mark_unknown=lambda: repository.mark_outcome_unknown(partner_reference),  # a new attempt's too
            unknown_metric="CreateOutcomeUnknown",
        )
        answer = settle_failed_call(exc, claim_is_new=claim_is_new, claim=claim, log=log_extra)
        if answer is exc:
            raise
        lost = CreateOutcomeUnknown(attempt=attempt_number(request.partner_reference), attempts=MAX_ATTEMPTS)
        raise (answer or lost) from exc


def _checkout(
    gateway: Pay1stClient, record: PaymentRecord, channel_id: str | None, deadline: float | None
) -> str | None:
    """A fresh hosted-page link while the customer can still pay; needs a current token (usually cached)."""
    if record.reference is None or record.status not in (state.NEW, state.PENDING):
        return None
    try:
        return gateway.checkout_url(record.reference, channel_id, deadline=deadline)
    except Pay1stError as exc:
        # The payment exists; a repeat of the same request returns it with a link once the gateway is back.
        raise GatewayUnavailable() from exc
