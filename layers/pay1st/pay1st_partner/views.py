"""What the partner sees of a payment: the JSON of ``GET /payments/{partnerReference}`` and of a create.

Money as decimal strings; nothing internal (fingerprints, outbox, history) and nothing secret.
"""

from __future__ import annotations

from typing import Any

from pay1st_partner.records import PaymentRecord


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
    if record.fulfilment is not None:
        view["fulfilment"] = {
            "status": "DELIVERED" if record.fulfilment.get("deliveredAt") else "QUEUED",
            "recordedAt": record.fulfilment.get("recordedAt"),
            "deliveredAt": record.fulfilment.get("deliveredAt"),
        }
    return view
