"""Create-payment use case: validate → fingerprint → claim → gateway create → mark created → checkout link.

Idempotent on ``partnerReference`` through the repository's conditional claim (not Powertools
Idempotency: its stored response would hold the checkout link, which carries an access token and must
never be stored, and it cannot answer our own 409 codes for a different body):

- a repeat with the same fingerprint returns the same payment with a fresh checkout link and no second
  gateway create;
- a different amount, currency, country or products for a claimed reference → 409 ``payment_conflict``;
- a claim whose create is still in flight → 409 ``create_in_progress``; a claim left ``CREATING`` for
  longer than any invocation can run (its Lambda was killed mid-call) is treated as ``CREATE_UNKNOWN``;
- a create whose outcome is unknown → the payment is kept as ``CREATE_UNKNOWN`` and 502
  ``create_outcome_unknown``. A repeat of such a request asks the gateway again with the SAME
  partnerReference: the gateway refuses a partnerReference it already has, so this can never create
  a second payment, and it rescues a create that never arrived;
- a clean refusal by the gateway releases the claim (the partner may correct and retry) and surfaces
  the gateway's errorCode, never its body or our tokens;
- the gateway unreachable (request known not sent, or retries exhausted) → claim released, 502
  ``gateway_unavailable``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pay1st.errors import (
    AuthenticationError,
    GatewayServerError,
    OutcomeUnknownError,
    Pay1stAPIError,
    Pay1stConnectionError,
    Pay1stError,
    RateLimitError,
)
from pay1st.models import CreatedPayment, MetadataItem, PaymentRequest, Product

from pay1st_partner import state
from pay1st_partner.callbacks import callback_urls, webhook_url
from pay1st_partner.errors import (
    CreateOutcomeUnknown,
    GatewayRejected,
    GatewayUnavailable,
    InvalidRequest,
    PaymentConflict,
)
from pay1st_partner.observability import count, logger
from pay1st_partner.references import is_partner_reference
from pay1st_partner.request_fields import object_list, reject_unknown, required_string
from pay1st_partner.text import is_utf8_text

if TYPE_CHECKING:
    from pay1st.client import Pay1stClient

    from pay1st_partner.records import PaymentRecord
    from pay1st_partner.repository import PaymentRepository

MAX_PRODUCTS = 50
MAX_METADATA = 20
# No basket holds more of one product; also keeps every number within DynamoDB's 38 digits.
MAX_QUANTITY = 1_000_000
# Money given as a string: plain ASCII digits with an optional fraction. Python's Decimal would also take
# "1_000", full-width digits, surrounding spaces and exponents, none of which is a sane way to write money.
# A leading '-' is allowed only so that a negative amount gets the model's clearer "must be positive".
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_TOP_LEVEL_FIELDS = frozenset(
    {"partnerReference", "amount", "currencyCode", "countryCode", "products", "metadata", "channelId"}
)
# Longer than any create invocation can last (the template's function Timeout is 15 s): a claim still
# CREATING after this belongs to a Lambda that was killed mid-call and will never finish it.
STALE_CLAIM_AGE = timedelta(minutes=2)
_PRODUCT_FIELDS = frozenset({"title", "sku", "price", "quantity", "currencyCode"})
_METADATA_FIELDS = frozenset({"key", "value"})


@dataclass(frozen=True)
class CreatePaymentCommand:
    """A validated create request (callback/webhook URLs are ours to set, so the partner cannot)."""

    partner_reference: str
    amount: Decimal
    currency_code: str
    country_code: str
    products: tuple[Product, ...]
    metadata: tuple[MetadataItem, ...]
    channel_id: str | None

    def to_request(self, base_url: str | None) -> PaymentRequest:
        """The §7 request; with ``base_url`` it carries our per-payment callback and webhook URLs."""
        urls: dict[str, str] = {}
        if base_url is not None:
            callbacks = callback_urls(base_url, self.partner_reference)
            urls = {
                "callback_success_url": callbacks["success"],
                "callback_failure_url": callbacks["failure"],
                "callback_pending_url": callbacks["pending"],
                "callback_cancel_url": callbacks["cancel"],
                "webhook_url": webhook_url(base_url),
            }
        return PaymentRequest(
            amount=self.amount,
            country_code=self.country_code,
            currency_code=self.currency_code,
            partner_reference=self.partner_reference,
            products=self.products,
            metadata=self.metadata,
            **urls,
        )


@dataclass(frozen=True)
class CreatePaymentResult:
    record: PaymentRecord
    # Only while the customer can still pay (NEW/PENDING); never stored, never logged.
    checkout_url: str | None
    created: bool  # False: an idempotent repeat of an earlier request

    def to_body(self) -> dict[str, Any]:
        """The 201 body: the payment as GET /payments/{partnerReference} shows it, plus the checkout link."""
        from pay1st_partner.views import payment_view

        return {**payment_view(self.record), "checkoutUrl": self.checkout_url}


# --- input ------------------------------------------------------------------------------------------


def _money(document: Mapping[str, Any], name: str, *, where: str = "") -> Decimal:
    value, field = document.get(name), f"{where}{name}"
    if value is None:
        raise InvalidRequest(f"{field}: is required")
    # JSON numbers arrive as Decimal/int (parsed with parse_float=Decimal); numeric strings are accepted too.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidRequest(f"{field}: must be a number")
    if isinstance(value, str):
        if _PLAIN_DECIMAL.fullmatch(value) is None:
            raise InvalidRequest(f"{field}: must be a plain decimal number such as 250 or 250.50")
        return Decimal(value)
    return value if isinstance(value, Decimal) else Decimal(value)


def parse_create_request(body: Mapping[str, Any]) -> CreatePaymentCommand:
    """Validate the POST /payments body into a command; errors are 400s naming the field.

    Field checks the gateway's own models make (ISO codes, positive amounts, currency of every product,
    decimal places) run again in ``PaymentRequest`` and surface as ``ValidationError`` → 400 too.
    """
    reject_unknown(body, _TOP_LEVEL_FIELDS)
    partner_reference = required_string(body, "partnerReference", max_length=64)
    if not is_partner_reference(partner_reference):
        raise InvalidRequest(
            "partnerReference: must be 1-64 characters of letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    currency_code = required_string(body, "currencyCode", max_length=3)
    country_code = required_string(body, "countryCode", max_length=2)
    amount = _money(body, "amount")

    products = []
    for raw in object_list(body, "products", limit=MAX_PRODUCTS, required=True):
        reject_unknown(raw, _PRODUCT_FIELDS, "products.")
        quantity = raw.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidRequest("products.quantity: must be an integer")
        if quantity > MAX_QUANTITY:
            raise InvalidRequest(f"products.quantity: must be at most {MAX_QUANTITY:,}")
        product_currency = raw.get("currencyCode", currency_code)
        if not isinstance(product_currency, str):
            raise InvalidRequest("products.currencyCode: must be a string")
        products.append(
            Product(
                title=required_string(raw, "title", max_length=200, where="products."),
                sku=required_string(raw, "sku", max_length=100, where="products."),
                price=_money(raw, "price", where="products."),
                quantity=quantity,
                currency_code=product_currency,
            )
        )

    metadata = []
    for raw in object_list(body, "metadata", limit=MAX_METADATA, required=False):
        reject_unknown(raw, _METADATA_FIELDS, "metadata.")
        metadata.append(
            MetadataItem(
                key=required_string(raw, "key", max_length=100, where="metadata."),
                value=required_string(raw, "value", max_length=500, where="metadata."),
            )
        )

    channel = body.get("channelId")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, str | int)):
        raise InvalidRequest("channelId: must be a string or an integer")
    channel_id = str(channel) if channel is not None and str(channel) != "" else None
    if channel_id is not None and len(channel_id) > 64:
        raise InvalidRequest("channelId: must be at most 64 characters")
    if channel_id is not None and not is_utf8_text(channel_id):
        raise InvalidRequest("channelId: must be valid Unicode text")

    command = CreatePaymentCommand(
        partner_reference=partner_reference,
        amount=amount,
        currency_code=currency_code,
        country_code=country_code,
        products=tuple(products),
        metadata=tuple(metadata),
        channel_id=channel_id,
    )
    command.to_request(None)  # runs the model's own validation now, before anything is claimed
    return command


# --- use case ---------------------------------------------------------------------------------------


def create_payment(
    command: CreatePaymentCommand,
    *,
    base_url: str,
    repository: PaymentRepository,
    gateway: Pay1stClient,
    deadline: float | None = None,
) -> CreatePaymentResult:
    from pay1st_partner.fingerprints import fingerprint

    request = command.to_request(base_url)
    digest = fingerprint(request)
    claim = repository.claim(request, digest, command.channel_id)
    if not claim.created:
        existing = claim.record
        if existing.fingerprint != digest:
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
        elif existing.status != state.CREATE_UNKNOWN:
            logger.info("create repeated", extra={"partnerReference": existing.partner_reference})
            channel_id = command.channel_id or existing.channel_id
            return CreatePaymentResult(existing, _checkout(gateway, existing, channel_id, deadline), False)
        # CREATE_UNKNOWN (or an abandoned CREATING): ask again with the same partnerReference (see the
        # module docstring).

    created = _create_at_gateway(
        request, claim_is_new=claim.created, repository=repository, gateway=gateway, deadline=deadline
    )
    # The claim's record saves a read; if anything moved the payment since, the conditional write notices.
    record = repository.mark_created(request.partner_reference, created, current=claim.record)
    count("PaymentsCreated")
    logger.info(
        "payment created",
        extra={"partnerReference": record.partner_reference, "reference": record.reference},
    )
    return CreatePaymentResult(record, _checkout(gateway, record, command.channel_id, deadline), True)


def _is_stale(updated_at: str) -> bool:
    from pay1st_partner.clock import age_seconds

    return age_seconds(updated_at, datetime.now(UTC)) > STALE_CLAIM_AGE.total_seconds()


def _create_at_gateway(
    request: PaymentRequest,
    *,
    claim_is_new: bool,
    repository: PaymentRepository,
    gateway: Pay1stClient,
    deadline: float | None,
) -> CreatedPayment:
    partner_reference = request.partner_reference
    log_extra: dict[str, Any] = {"partnerReference": partner_reference}
    try:
        return gateway.create_payment(request, deadline=deadline)
    except OutcomeUnknownError as exc:
        repository.mark_outcome_unknown(partner_reference)
        count("CreateOutcomeUnknown")
        logger.warning("create outcome unknown", extra={**log_extra, "session_id": exc.session_id})
        raise CreateOutcomeUnknown() from exc
    except Pay1stAPIError as exc:
        log_extra.update(status=exc.status, error_code=exc.error_code, session_id=exc.session_id)
        if not claim_is_new:
            # A retried unknown create refused (e.g. the gateway already has this partnerReference):
            # the outcome is still unknown, and the claim must stay.
            logger.warning("retried create refused; outcome still unknown", extra=log_extra)
            raise CreateOutcomeUnknown() from exc
        repository.release_claim(partner_reference)
        logger.warning("create refused by the gateway", extra=log_extra)
        if isinstance(exc, RateLimitError | GatewayServerError):
            raise GatewayUnavailable() from exc
        detail = f" (errorCode {exc.error_code})" if exc.error_code else ""
        if isinstance(exc, AuthenticationError):
            raise GatewayRejected(f"The Pay1st Gateway refused our credentials{detail}.") from exc
        raise GatewayRejected(f"The Pay1st Gateway rejected the payment{detail}.", http_status=422) from exc
    except Pay1stConnectionError as exc:
        # Known not to have reached the gateway (OutcomeUnknownError is not a subclass; handled above).
        if claim_is_new:
            repository.release_claim(partner_reference)
            logger.warning("gateway unreachable; claim released", extra=log_extra)
            raise GatewayUnavailable() from exc
        raise CreateOutcomeUnknown() from exc
    except Pay1stError as exc:
        # Anything else (e.g. a token call that failed strangely) may have happened after sending:
        # keep the payment as unknown rather than risk a second create.
        repository.mark_outcome_unknown(partner_reference)
        count("CreateOutcomeUnknown")
        logger.warning("create failed unexpectedly", extra={**log_extra, "error_type": type(exc).__name__})
        raise CreateOutcomeUnknown() from exc
    except BaseException:
        # A bug or a crash mid-call: never leave the claim CREATING forever (it would answer 409 for good).
        repository.mark_outcome_unknown(partner_reference)
        raise


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
