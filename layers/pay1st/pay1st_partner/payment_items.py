"""The payment item: one per partnerReference, the same layout in every store (DynamoDB and in memory).

Item layout (DynamoDB attribute names):

- ``partnerReference`` (key), ``reference`` (Pay1st's id; GSI ``byReference``), ``status``, ``amount``,
  ``currencyCode``, ``countryCode``, ``products``, ``metadata``, ``fingerprint``, ``channelId``,
  ``createdAt``, ``updatedAt``, ``lastCheckedAt``, ``statusHistory``, ``lastUnknownStatus``, ``conflicts``,
  ``fulfilment``.
- Money (``amount``, product ``price``) is stored as decimal *text*: a DynamoDB number would drop the
  trailing zero of ``250.50``, and the partner should read back exactly what it sent.
- ``openMarker = "OPEN"`` while the payment has a gateway reference and a non-final status (sparse GSI
  ``openPayments``, sorted by ``updatedAt``). ``updatedAt`` moves on every write *including* a status
  check, so the poller works round-robin through open payments instead of re-checking the oldest ones.
- The transactional outbox: ``outbox`` (map event id → event JSON), ``outboxMarker = "PENDING"`` and
  ``outboxSince`` while it holds anything (sparse GSI ``pendingEvents``). A transition sets the status and
  adds its event in ONE conditional write, so an event exists iff its transition committed.
- Refunds (contract §15) live ON the payment item, in the map ``refunds`` (refundReference → entry:
  ``refundReference``, ``amount``, ``requested``, ``currencyCode``, ``reason``, ``status``,
  ``pay1stRefundReference``, ``handlingType``, ``createdAt``, ``updatedAt``, ``history``), beside the running
  totals ``refundReserved`` (refunds SUCCESSFUL or open) and ``refundedAmount`` (SUCCESSFUL), both DynamoDB
  numbers. Why on the payment: a refund's claim must check and move the payment's totals, and its events go
  through the payment's outbox; on one item each is ONE conditional write (``refundReserved <= amount -
  refund``), with no transaction across items or tables and no read-modify-write race. A payment has few
  refunds (at most ``MAX_REFUNDS_PER_PAYMENT``), so the item stays far below DynamoDB's 400 KB.
- ``refundsOpen`` counts open refunds; while it is above zero the item carries ``refundOpenMarker = "OPEN"``
  and ``refundOpenSince`` (sparse GSI ``openRefunds``), so refunds open too long can be found and reported.
- A refundReference is unique for the lifetime of the integration (it is Pay1st's partnerRefundReference),
  so each also has a small pointer item, key ``refund#<refundReference>`` → ``refundOf`` (the payment's
  partnerReference). ``#`` never occurs in a partnerReference, so a pointer can never be taken for a payment.
- ``reversals`` (map kind → ``{at, source}``): REFUND or CHARGEBACK confirmed by the gateway (§9, §16).
- Attempts (``pay1st_partner.attempts``): ``attemptReference`` (the partnerReference the current attempt was
  created under at Pay1st; absent: the partnerReference itself), ``attempts`` (list, oldest first: the
  earlier attempts, see ``PaymentRecord.attempts``) and ``doublePaid`` (true once two attempts were paid).
  Each derived reference also has a pointer item, key ``attempt#<reference>`` → ``attemptOf`` (as for
  refunds), so a webhook naming it finds the payment and a reference is never handed to two payments.
- ``audit`` (list, oldest first, at most ``MAX_AUDIT_ENTRIES``): what operators did to the payment
  (``pay1st_ops``: reconcile, replay, republish, redrive), each ``{at, who, action, detail}``, and
  ``auditCount`` (entries ever written: the condition of the next append). GSI
  ``byStatus`` (``status``, ``createdAt``; not sparse) lets operators find payments by status and age.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pay1st.models import FulfilmentItem, MetadataItem, PaymentRequest, Product

from pay1st_partner import refund_state, state
from pay1st_partner.clock import isoformat
from pay1st_partner.records import PaymentRecord, RefundRecord, amount_text

OPEN_MARKER = "OPEN"
OUTBOX_PENDING = "PENDING"
OPEN_PAYMENTS_INDEX = "openPayments"
PENDING_EVENTS_INDEX = "pendingEvents"
BY_REFERENCE_INDEX = "byReference"
OPEN_REFUNDS_INDEX = "openRefunds"
BY_STATUS_INDEX = "byStatus"
MAX_AUDIT_ENTRIES = 50
REFUND_POINTER_PREFIX = "refund#"
ATTEMPT_POINTER_PREFIX = "attempt#"
REQUESTED_ALL = "ALL"
MAX_REFUNDS_PER_PAYMENT = 20


def refund_pointer_key(refund_reference: str) -> str:
    return REFUND_POINTER_PREFIX + refund_reference


def attempt_pointer_key(attempt_reference: str) -> str:
    return ATTEMPT_POINTER_PREFIX + attempt_reference


def refund_entry(
    refund_reference: str,
    amount: Decimal,
    requested: Decimal | None,
    currency: str,
    reason: str | None,
    now: str,
) -> dict[str, Any]:
    """A new refund, CREATING: what claims ``refundReference`` on the payment before the gateway call."""
    entry: dict[str, Any] = {
        "refundReference": refund_reference,
        "amount": amount_text(amount),
        "requested": REQUESTED_ALL if requested is None else amount_text(requested),
        "currencyCode": currency,
        "status": refund_state.CREATING,
        "createdAt": now,
        "updatedAt": now,
        "history": [history_entry(refund_state.CREATING, now, "create")],
    }
    if reason is not None:
        entry["reason"] = reason
    return entry


def _refund_record(partner_reference: str, data: Mapping[str, Any]) -> RefundRecord:
    return RefundRecord(
        refund_reference=data["refundReference"],
        partner_reference=partner_reference,
        amount=Decimal(data["amount"]),
        requested=data.get("requested", REQUESTED_ALL),
        currency_code=data["currencyCode"],
        reason=data.get("reason"),
        status=data["status"],
        pay1st_refund_reference=data.get("pay1stRefundReference"),
        handling_type=data.get("handlingType"),
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
    )


def _product_item(product: Product) -> dict[str, Any]:
    return {
        "title": product.title,
        "sku": product.sku,
        "price": amount_text(product.price),
        "quantity": product.quantity,
        "currencyCode": product.currency_code,
    }


def claim_item(request: PaymentRequest, fingerprint: str, channel_id: str | None, now: str) -> dict[str, Any]:
    """A new payment, CREATING: what claims ``partnerReference`` before the gateway create."""
    values: dict[str, Any] = {
        "partnerReference": request.partner_reference,
        "status": state.CREATING,
        "amount": amount_text(request.amount),
        "currencyCode": request.currency_code,
        "countryCode": request.country_code,
        "products": [_product_item(p) for p in request.products],
        "metadata": [{"key": m.key, "value": m.value} for m in request.metadata],
        "fingerprint": fingerprint,
        "createdAt": now,
        "updatedAt": now,
        "statusHistory": [{"status": state.CREATING, "at": now, "source": "create"}],
        "outbox": {},
    }
    if channel_id is not None:
        values["channelId"] = channel_id
    return values


def fulfilment_item(items: Sequence[FulfilmentItem], digest: str, now: str) -> dict[str, Any]:
    """The ``fulfilment`` attribute: the delivered products, once, with the digest that identifies them."""
    return {
        "items": [
            {
                "sku": item.sku,
                "quantity": item.quantity,
                "fulfilmentStatus": item.fulfilment_status,
                "fulfilmentTime": isoformat(item.fulfilment_time),
            }
            for item in items
        ],
        "fingerprint": digest,
        "recordedAt": now,
    }


def history_entry(status: str, now: str, source: str) -> dict[str, Any]:
    return {"status": status, "at": now, "source": source}


def conflict_entry(status: str, recorded_status: str, now: str, source: str) -> dict[str, Any]:
    return {"status": status, "recordedStatus": recorded_status, "at": now, "source": source}


def record_from_item(data: Mapping[str, Any]) -> PaymentRecord:
    """Map a stored item to the domain record (DynamoDB numbers come back as Decimal)."""
    fulfilment = data.get("fulfilment")
    if fulfilment is not None:
        fulfilment = {
            **fulfilment,
            "items": [{**item, "quantity": int(item["quantity"])} for item in fulfilment.get("items", [])],
        }
    return PaymentRecord(
        partner_reference=data["partnerReference"],
        reference=data.get("reference"),
        status=data["status"],
        amount=Decimal(data["amount"]),
        currency_code=data["currencyCode"],
        country_code=data["countryCode"],
        products=tuple(
            Product(
                title=p["title"],
                sku=p["sku"],
                price=Decimal(p["price"]),
                quantity=int(p["quantity"]),
                currency_code=p["currencyCode"],
            )
            for p in data.get("products", [])
        ),
        metadata=tuple(MetadataItem(key=m["key"], value=m["value"]) for m in data.get("metadata", [])),
        fingerprint=data.get("fingerprint", ""),
        channel_id=data.get("channelId"),
        created_at=data["createdAt"],
        updated_at=data["updatedAt"],
        last_checked_at=data.get("lastCheckedAt"),
        fulfilment=fulfilment,
        last_unknown_status=data.get("lastUnknownStatus"),
        conflicts=tuple(data.get("conflicts", [])),
        pending_event_ids=tuple(sorted(data.get("outbox", {}))),
        refunds=tuple(
            sorted(
                (
                    _refund_record(data["partnerReference"], entry)
                    for entry in data.get("refunds", {}).values()
                ),
                key=lambda refund: (refund.created_at, refund.refund_reference),
            )
        ),
        refund_reserved=Decimal(data.get("refundReserved", 0)),
        refunded_amount=Decimal(data.get("refundedAmount", 0)),
        reversals=dict(data.get("reversals", {})),
        attempt_reference=data.get("attemptReference"),
        attempts=tuple(data.get("attempts", ())),
        double_paid=bool(data.get("doublePaid", False)),
    )
