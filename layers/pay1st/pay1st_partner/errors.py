"""Domain errors of the partner bundle, each with a stable ``code`` and the HTTP status it maps to.

They are plain exceptions raised by the use cases; ``pay1st_partner.api`` turns them into
``{"code", "message"}`` JSON responses in one place. Messages are shown to API callers, so they must
never carry tokens, secrets, signatures or raw gateway bodies.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the HTTP layer knows how to answer."""

    code: str = "domain_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidRequest(DomainError):
    code = "invalid_request"
    http_status = 400


class PaymentNotFound(DomainError):
    code = "payment_not_found"
    http_status = 404

    def __init__(self, message: str = "No payment with this partnerReference.") -> None:
        super().__init__(message)


class PaymentConflict(DomainError):
    """409: codes ``payment_conflict``, ``create_in_progress``, ``attempts_exhausted``, ``payment_not_successful``, ``fulfilment_conflict``;
    for refunds ``refund_conflict``, ``refund_in_progress``, ``payment_not_refundable``, ``too_many_refunds``."""

    code = "payment_conflict"
    http_status = 409


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    http_status = 413

    def __init__(self, message: str = "The request body is too large.") -> None:
        super().__init__(message)


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    http_status = 415

    def __init__(
        self,
        message: str = "The request body must be JSON: send the header Content-Type: application/json.",
    ) -> None:
        super().__init__(message)


class WebhookRejected(DomainError):
    """401 with the rejection reason as code (``missing_signature``, ``invalid_signature``, ``stale_timestamp``)."""

    code = "invalid_signature"
    http_status = 401

    def __init__(self, reason: str, message: str = "The webhook signature could not be verified.") -> None:
        super().__init__(message, code=reason)

    @property
    def reason(self) -> str:
        return self.code


class NotRecorded(DomainError):
    """503: the event could not be stored durably, so the sender must retry."""

    code = "not_recorded"
    http_status = 503

    def __init__(self, message: str = "The event could not be recorded; please retry.") -> None:
        super().__init__(message)


class NotApplied(DomainError):
    """503: the event is recorded but processing failed; the sender's retry applies it (idempotent)."""

    code = "not_applied"
    http_status = 503

    def __init__(
        self, message: str = "The event is recorded but could not be processed yet; please retry."
    ) -> None:
        super().__init__(message)


class GatewayUnavailable(DomainError):
    code = "gateway_unavailable"
    http_status = 502

    def __init__(self, message: str = "The Pay1st Gateway could not be reached; please retry.") -> None:
        super().__init__(message)


class PaymentMethodsUnavailable(DomainError):
    """502: a create named a channelId, and the payment methods to check it against could not be had."""

    code = "payment_methods_unavailable"
    http_status = 502


class CreateOutcomeUnknown(DomainError):
    """502: the create may or may not have happened; the message tells the partner what is safe to do.

    ``attempt`` of ``attempts`` (README "Attempts") says how many are left: the repeat after the last one is
    only safe in that it cannot make another; if Pay1st has that one too, it answers ``attempts_exhausted``.
    """

    code = "create_outcome_unknown"
    http_status = 502

    def __init__(self, *, attempt: int | None = None, attempts: int | None = None) -> None:
        which = f" (attempt {attempt} of {attempts})" if attempt and attempts else ""
        last = attempt is not None and attempts is not None and attempt >= attempts
        super().__init__(
            f"The Pay1st Gateway did not confirm whether the payment was created{which}. It is kept as "
            "CREATE_UNKNOWN until a Pay1st webhook resolves it (GET /payments/{partnerReference} shows "
            "its status). Repeating this same request is safe: it answers with the one checkout link the "
            "customer can pay (if Pay1st already has the lost attempt, the repeat makes a new attempt and "
            'links that; README "Attempts"). '
            + (
                "This was the last attempt: if Pay1st already has it too, the repeat answers 409 "
                "attempts_exhausted and the payment ends without any checkout link. "
                if last
                else "When Pay1st already has the last attempt too, the repeat answers 409 attempts_exhausted "
                "instead and the payment ends without any checkout link. "
            )
            + "The customer has no checkout link for it; if they must pay now, a new payment with a NEW "
            "partnerReference is safe too."
        )


class AttemptsExhausted(PaymentConflict):
    """409: every attempt of the payment exists at Pay1st and none has a checkout link (README "Attempts")."""

    code = "attempts_exhausted"

    def __init__(self, attempts: int) -> None:
        super().__init__(
            f"All {attempts} attempts of this payment reached Pay1st, but none of their answers reached us, so "
            "no checkout link exists for any of them: the payment ends here, still CREATE_UNKNOWN with "
            "attemptsExhaustedAt set (GET /payments/{partnerReference}). Repeating this request changes "
            "nothing and creates nothing; if the customer must still pay, create a new payment with a NEW "
            "partnerReference. Should Pay1st nevertheless report one of these attempts paid, this payment "
            "becomes SUCCESSFUL (a Payment Succeeded event) as any other: refund one if the new payment "
            "was paid too."
        )


class GatewayRejected(DomainError):
    """The gateway refused a request cleanly (4xx); its errorCode is surfaced, never its body or tokens."""

    code = "gateway_rejected"
    http_status = 502

    def __init__(self, message: str, *, http_status: int = 502) -> None:
        super().__init__(message)
        self.http_status = http_status


class FulfilmentNotQueued(DomainError):
    """The fulfilment is recorded but could not be queued; repeating the request queues it."""

    code = "fulfilment_not_queued"
    http_status = 503


class RefundOutcomeUnknown(DomainError):
    """502: the refund may or may not have been made; repeating the same request is safe."""

    code = "refund_outcome_unknown"
    http_status = 502

    def __init__(
        self,
        message: str = (
            "The Pay1st Gateway did not confirm whether the refund was made. It is kept as CREATE_UNKNOWN "
            "until Pay1st's refund notification resolves it (GET /payments/{partnerReference} shows it). "
            "Repeating this same request is safe: it never makes a second refund."
        ),
    ) -> None:
        super().__init__(message)
