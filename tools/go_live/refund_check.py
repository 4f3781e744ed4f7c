"""The refund step (``--refund``, staging only): refund the check's own test payment and say which reference
Pay1st accepted (contract §15, unconfirmed: the payment's ``reference`` or a ``C-…-T`` transaction id).

The refund goes through the stack's own route, as the partner's backend would, under the stack's
``RefundTransactionReference``. Accepted: that value works. Refused because of the reference
(``refund_reference_refused``): the other reference is tried once directly at Pay1st with the bundle's gateway
client (the id read from Pay1st's status answer), so the report says which value to deploy, or that Pay1st
took neither. Never on production: a refund moves real money back.
"""

from __future__ import annotations

from pay1st.errors import Pay1stError
from pay1st.models import RefundRequest
from pay1st_partner.refunds.reference import PARAMETER, PAYMENT_REFERENCE, TRANSACTION_ID
from pay1st_partner_client import Pay1stPartnerError

from go_live.context import Check
from go_live.partner_steps import _client, _error
from go_live.report import Outcome, failed, not_applicable, passed

NAMES = {PAYMENT_REFERENCE: "the payment's reference (C-…-P)", TRANSACTION_ID: "the transaction id (C-…-T)"}


def refund_reference(check: Check) -> Outcome:
    if not check.options.refund:
        return not_applicable(
            "not asked: --refund refunds the test payment on staging to learn Pay1st's reference"
        )
    if check.target.environment == "production":
        return not_applicable(
            "Environment=production: refunds are checked on staging only (--refund ignored)"
        )
    mode = check.target.parameters.get(PARAMETER) or PAYMENT_REFERENCE
    reference = check.payment["partnerReference"]
    path = f"POST /payments/{reference}/refunds"
    try:
        refund = _client(check).refund(reference, f"{reference}-refund", reason="go-live check")
    except Pay1stPartnerError as exc:
        if exc.code != "refund_reference_refused":
            return failed(f"{path} -> {_error(exc)}", "see the README's refund answers and the stack's logs")
        return _other_reference(check, mode, path)
    return passed(
        f"{path} -> 201 {refund.status}: Pay1st accepted the refund naming {NAMES[mode]} ({PARAMETER}={mode})",
        acceptedReference=mode,
        refundReference=refund.refund_reference,
    )


def _other_reference(check: Check, mode: str, path: str) -> Outcome:
    """The stack's reference was refused: try the other one directly at Pay1st, once."""
    other = TRANSACTION_ID if mode == PAYMENT_REFERENCE else PAYMENT_REFERENCE
    refused = f"{path} -> 422 refund_reference_refused: Pay1st refused {NAMES[mode]} ({PARAMETER}={mode})"
    ask = "ask the Pay1st Implementation Manager which reference a refund's transactionReference takes (§15)"
    client, payment = check.client, check.payment
    if client is None:
        return failed(refused, ask, acceptedReference=None)
    try:
        details = client.get_payment(payment["reference"])
        value = details.transaction_id if other == TRANSACTION_ID else details.reference
        if value is None:
            return failed(
                f"{refused}; Pay1st's status answer carries no transaction id to try instead",
                f"{ask}, and where Pay1st sends transaction ids",
                acceptedReference=None,
            )
        created = client.create_refund(
            RefundRequest(
                transaction_reference=value,
                partner_refund_reference=f"{payment['partnerReference']}-probe",
                reason="go-live check: which reference Pay1st takes",
            )
        )
    except Pay1stError as exc:
        return failed(
            f"{refused}; {NAMES[other]} refused too ({type(exc).__name__})", ask, acceptedReference=None
        )
    return failed(
        f"{refused}; it accepted {NAMES[other]} {value} (refund {created.refund_reference}, made at Pay1st directly)",
        f"deploy with {PARAMETER}={other}: sam deploy --parameter-overrides {PARAMETER}={other} …",
        acceptedReference=other,
    )
