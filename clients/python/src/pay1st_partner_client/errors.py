"""One exception per error ``code`` the bundle's API answers, plus API Gateway's own refusals.

Every error carries the HTTP ``status``, the ``code`` (None for API Gateway's ``{"message"}`` errors), the
``message`` and the ``request_id``; ``error_for`` is the one place a response becomes an exception.
"""

from __future__ import annotations


class Pay1stPartnerError(Exception):
    """Base of every error this client raises."""

    code: str | None = None

    def __init__(
        self, message: str, *, status: int = 0, code: str | None = None, request_id: str = ""
    ) -> None:
        super().__init__(f"{status} {code or type(self).__name__}: {message}" if status else message)
        self.message = message
        self.status = status
        self.code = code or type(self).code
        self.request_id = request_id


class ConnectionFailed(Pay1stPartnerError):
    """The API could not be reached (after the retries)."""


# ------------------------------------------------------------------ the bundle's codes (README's error tables)
class InvalidRequest(Pay1stPartnerError):
    code = "invalid_request"


class InvalidJson(InvalidRequest):
    code = "invalid_json"


class InvalidBody(InvalidRequest):
    code = "invalid_body"


class AmountMismatch(InvalidRequest):
    """The products' price * quantity do not add up to the amount (the message names the difference)."""

    code = "amount_mismatch"


class CurrencyMismatch(InvalidRequest):
    """currencyCode is not one the country pays in (the message names the right one)."""

    code = "currency_mismatch"


class InvalidChannel(InvalidRequest):
    """channelId is not an active channel for the country (``payment_methods`` lists the valid ones)."""

    code = "invalid_channel"


class UnsupportedMediaType(Pay1stPartnerError):
    """415: the body was not sent as ``Content-Type: application/json``."""

    code = "unsupported_media_type"


class PayloadTooLarge(Pay1stPartnerError):
    code = "payload_too_large"


class PaymentNotFound(Pay1stPartnerError):
    code = "payment_not_found"


class PaymentConflict(Pay1stPartnerError):
    code = "payment_conflict"


class CreateInProgress(Pay1stPartnerError):
    code = "create_in_progress"


class CreateOutcomeUnknown(Pay1stPartnerError):
    """The gateway may or may not have created it: repeat with the same reference, never a new one."""

    code = "create_outcome_unknown"


class AttemptsExhausted(Pay1stPartnerError):
    """409: all attempts of the payment are at Pay1st without a checkout link; repeating creates nothing."""

    code = "attempts_exhausted"


class GatewayRejected(Pay1stPartnerError):
    code = "gateway_rejected"


class GatewayUnavailable(Pay1stPartnerError):
    code = "gateway_unavailable"


class PaymentMethodsUnavailable(GatewayUnavailable):
    """channelId could not be checked: the payment methods could not be fetched. Nothing was created."""

    code = "payment_methods_unavailable"


class PaymentNotSuccessful(Pay1stPartnerError):
    code = "payment_not_successful"


class PaymentRefunded(Pay1stPartnerError):
    """Nothing may be fulfilled: the partner's refunds (or Pay1st's full refund) cover the amount."""

    code = "payment_refunded"


class PaymentChargedBack(Pay1stPartnerError):
    code = "payment_charged_back"


class PaymentReversed(Pay1stPartnerError):
    code = "payment_reversed"


class FulfilmentConflict(Pay1stPartnerError):
    code = "fulfilment_conflict"


class FulfilmentNotQueued(Pay1stPartnerError):
    code = "fulfilment_not_queued"


class PaymentNotRefundable(Pay1stPartnerError):
    """Not SUCCESSFUL, reversed at Pay1st (chargeback, full refund), or nothing is left to refund."""

    code = "payment_not_refundable"


class AmountExceedsRefundable(InvalidRequest):
    code = "amount_exceeds_refundable"


class RefundConflict(Pay1stPartnerError):
    """The refundReference is already used for another amount or another payment."""

    code = "refund_conflict"


class RefundInProgress(Pay1stPartnerError):
    code = "refund_in_progress"


class RefundNotFound(Pay1stPartnerError):
    code = "refund_not_found"


class RefundOutcomeUnknown(Pay1stPartnerError):
    """Pay1st may or may not have made the refund: repeat with the same refundReference, never a new one."""

    code = "refund_outcome_unknown"


class TooManyRefunds(Pay1stPartnerError):
    code = "too_many_refunds"


class RefundReferenceRefused(Pay1stPartnerError):
    """Pay1st did not know the reference the refund named the payment by: the message names the stack's
    ``RefundTransactionReference`` value that would work (nothing reserved; repeat once it is deployed)."""

    code = "refund_reference_refused"


class TransactionIdUnknown(Pay1stPartnerError):
    """``RefundTransactionReference=transaction-id``, and Pay1st has sent no transaction id for the payment yet."""

    code = "transaction_id_unknown"


class RouteNotFound(Pay1stPartnerError):
    code = "not_found"


class InternalError(Pay1stPartnerError):
    code = "internal_error"


# The public webhook route's codes: the client never calls it, but they are the API's too.
class MissingSignature(Pay1stPartnerError):
    code = "missing_signature"


class InvalidSignature(Pay1stPartnerError):
    code = "invalid_signature"


class StaleTimestamp(Pay1stPartnerError):
    code = "stale_timestamp"


class NotRecorded(Pay1stPartnerError):
    code = "not_recorded"


class NotApplied(Pay1stPartnerError):
    code = "not_applied"


# ------------------------------------------------------------------ API Gateway's own answers ({"message"})
class Unauthorized(Pay1stPartnerError):
    """401: no valid bearer token (JWT authorizer)."""


class Forbidden(Pay1stPartnerError):
    """403: unsigned, badly signed, or not allowed (IAM authorizer)."""


class Throttled(Pay1stPartnerError):
    """429: API Gateway's throttling."""


class ServiceUnavailable(Pay1stPartnerError):
    """503 without a code: the function timed out."""


class UnexpectedResponse(Pay1stPartnerError):
    """Any other answer this client does not know."""


BY_CODE: dict[str, type[Pay1stPartnerError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest, InvalidJson, InvalidBody, AmountMismatch, CurrencyMismatch, InvalidChannel, UnsupportedMediaType,
        PaymentMethodsUnavailable, PayloadTooLarge, PaymentNotFound, PaymentConflict,
        CreateInProgress, CreateOutcomeUnknown, AttemptsExhausted, GatewayRejected, GatewayUnavailable, PaymentNotSuccessful,
        PaymentRefunded, PaymentChargedBack, PaymentReversed,
        FulfilmentConflict, FulfilmentNotQueued, PaymentNotRefundable, AmountExceedsRefundable, RefundConflict,
        RefundInProgress, RefundNotFound, RefundOutcomeUnknown, TooManyRefunds, RefundReferenceRefused,
        TransactionIdUnknown, RouteNotFound, InternalError,
        MissingSignature, InvalidSignature, StaleTimestamp, NotRecorded, NotApplied,
    )
    if cls.code
}  # fmt: skip
_BY_STATUS: dict[int, type[Pay1stPartnerError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: RouteNotFound,
    429: Throttled,
    503: ServiceUnavailable,
}


def error_for(status: int, body: object, request_id: str = "") -> Pay1stPartnerError:
    """The exception for an error response: by its ``code`` when it has one, else by status."""
    document = body if isinstance(body, dict) else {}
    code = document.get("code")
    message = str(document.get("message") or f"HTTP {status}")
    cls = BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None:
        cls = _BY_STATUS.get(status, UnexpectedResponse)
    return cls(message, status=status, code=code if isinstance(code, str) else None, request_id=request_id)
