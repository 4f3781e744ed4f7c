"""What the partner sees of a payment: the JSON of ``GET /payments/{partnerReference}`` and of a create.

Money as decimal strings; nothing internal (fingerprints, outbox, history) and nothing secret.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pay1st.iso import currency_minor_units

from pay1st_partner import state
from pay1st_partner.records import PaymentRecord, RefundRecord


def money(value: Decimal, currency: str) -> str:
    """An amount as text in the currency's minor units (running totals are DynamoDB numbers: 250.5)."""
    return format(value.quantize(Decimal(1).scaleb(-currency_minor_units(currency))), "f")


def refund_view(payment: PaymentRecord, refund: RefundRecord) -> dict[str, Any]:
    """A refund as the partner sees it (also the body of POST /payments/{partnerReference}/refunds)."""
    return {
        "refundReference": refund.refund_reference,
        "partnerReference": payment.partner_reference,
        "pay1stRefundReference": refund.pay1st_refund_reference,
        "amount": money(refund.amount, refund.currency_code),
        "currencyCode": refund.currency_code,
        "status": refund.status,
        "handlingType": refund.handling_type,
        "reason": refund.reason,
        "createdAt": refund.created_at,
        "updatedAt": refund.updated_at,
    }


def payment_view(record: PaymentRecord) -> dict[str, Any]:
    """The partner-facing JSON of a payment (money as decimal strings; nothing internal or secret)."""
    view: dict[str, Any] = {
        "partnerReference": record.partner_reference,
        "reference": record.reference,
        "status": record.status,
        "amount": format(record.amount, "f"),
        "currencyCode": record.currency_code,
        "countryCode": record.country_code,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "lastCheckedAt": record.last_checked_at,
    }
    if record.channel_id is not None:
        view["channelId"] = record.channel_id
    step = record.current_step
    if step is not None:  # the customer is mid-payment (§9): the gateway's latest in-progress step
        view["step"] = step
        view["stepAt"] = record.step["at"] if record.step else None
    if record.attempts:  # more than one attempt at Pay1st (README "Attempts")
        from pay1st_partner.payments.attempts import attempts_view

        view["attempts"] = attempts_view(record)
        view["doublePaid"] = record.double_paid
        view["attemptsExhaustedAt"] = record.attempts_exhausted_at
    if record.fulfilment is not None:
        view["fulfilment"] = {
            "status": "DELIVERED" if record.fulfilment.get("deliveredAt") else "QUEUED",
            "recordedAt": record.fulfilment.get("recordedAt"),
            "deliveredAt": record.fulfilment.get("deliveredAt"),
        }
    if record.status == state.SUCCESSFUL or record.refunds or record.reversals:
        # Once paid: its refunds, their totals and any reversal Pay1st confirmed (contract §15, §16).
        view["refunds"] = [refund_view(record, refund) for refund in record.refunds]
        view["refundedAmount"] = money(record.refunded_amount, record.currency_code)
        view["refundableAmount"] = money(record.refundable_amount, record.currency_code)
        for kind, reversal in sorted(record.reversals.items()):
            view["chargeback" if kind == state.CHARGEBACK else "fullRefund"] = {
                "status": kind,
                "recordedAt": reversal.get("at"),
            }
    return view
