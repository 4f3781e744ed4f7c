"""Which reference a refund names the payment by (contract §15, unconfirmed), and a refusal because of it.

Pay1st's refund request names the payment in ``transactionReference``. Public material gives two id formats,
a payment's ``reference`` (``C-<digits>-P``, what we always have) and a transaction id (``C-<digits>-T``,
which its refund example uses), and does not say which one Pay1st looks up. The stack parameter
``RefundTransactionReference`` chooses: ``payment-reference`` (the default) or ``transaction-id`` (the latest
``C-…-T`` id Pay1st sent for the payment: create answer, status query or webhook, kept as ``transactionId``).

A refund Pay1st refuses *because of the reference* (a 4xx whose errorCode or message is about the reference
or an unknown transaction: the sandbox answers 400 ``UNKNOWN_REFERENCE``) is answered 422
``refund_reference_refused``, naming the parameter and the value that would work, so the operator fixes the
stack instead of guessing. The claim is released as for any clean refusal: once the parameter is set, the
same refundReference succeeds.
"""

from __future__ import annotations

from pay1st.errors import Pay1stAPIError

from pay1st_partner.errors import GatewayRejected, PaymentConflict
from pay1st_partner.records import PaymentRecord

PARAMETER = "RefundTransactionReference"
PAYMENT_REFERENCE = "payment-reference"
TRANSACTION_ID = "transaction-id"
MODES = (PAYMENT_REFERENCE, TRANSACTION_ID)


def refund_target(payment: PaymentRecord, mode: str) -> str:
    """The ``transactionReference`` a refund of ``payment`` sends under ``mode``."""
    if mode == TRANSACTION_ID:
        if payment.transaction_id is None:
            raise PaymentConflict(
                f"{PARAMETER}={TRANSACTION_ID}, but Pay1st has sent no transaction id (C-…-T) for this payment "
                f"yet; retry once it has, or set {PARAMETER}={PAYMENT_REFERENCE}.",
                code="transaction_id_unknown",
            )
        return payment.transaction_id
    if payment.reference is None:  # a refundable payment is SUCCESSFUL, so it has one
        raise ValueError("a refunded payment has a Pay1st reference")
    return payment.reference


def is_reference_refusal(exc: BaseException) -> bool:
    """Pay1st refused the refund because it does not know the ``transactionReference`` it was given."""
    if not isinstance(exc, Pay1stAPIError) or exc.status not in (400, 404, 422):
        return False
    code = (exc.error_code or "").upper()
    message = exc.error_message or ""
    return "REFERENCE" in code or "NOT_FOUND" in code or "transactionReference" in message


def reference_refused(payment: PaymentRecord, mode: str, exc: Pay1stAPIError) -> GatewayRejected:
    """The answer to a refusal because of the reference: what was sent, and the value that would work."""
    code = f" (errorCode {exc.error_code})" if exc.error_code else ""
    if mode == TRANSACTION_ID:
        sent = f"the transaction id {payment.transaction_id}"
        fix = f"set {PARAMETER}={PAYMENT_REFERENCE} (the payment's reference {payment.reference})"
    else:
        sent = f"the payment's reference {payment.reference}"
        known = f" ({payment.transaction_id})" if payment.transaction_id else ""
        fix = f"set {PARAMETER}={TRANSACTION_ID} (the transaction id Pay1st sent{known})"
    error = GatewayRejected(
        f"Pay1st refused the refund's transactionReference{code}: it was {sent} ({PARAMETER}={mode}); {fix}.",
        http_status=422,
    )
    error.code = "refund_reference_refused"
    return error
