"""The payment item: one per partnerReference, the same layout in every store (DynamoDB and in memory).

Item layout (DynamoDB attribute names):

- ``partnerReference`` (key), ``reference`` (Pay1st's id; operators find it by a scan), ``status``, ``amount``,
  ``currencyCode``, ``countryCode``, ``products``, ``metadata``, ``fingerprint``, ``channelId``,
  ``createdAt``, ``updatedAt``, ``lastCheckedAt``, ``statusHistory``, ``lastUnknownStatus``, ``conflicts``,
  ``fulfilment``.
- Money (``amount``, product ``price``) is stored as decimal *text*: a DynamoDB number would drop the
  trailing zero of ``250.50``, and the partner should read back exactly what it sent.
- ``openMarker = "OPEN#<n>"`` (a shard, see below) while the payment has a gateway reference and a non-final
  status, with ``nextCheckAt``: when the poller next asks the gateway about it (:mod:`pay1st_partner.
  check_schedule`). Sparse keys-only GSI ``watchList`` (``openMarker``, ``nextCheckAt``: what the poller works
  through, due first). A SUCCESSFUL payment keeps both, unchanged, until its fulfilment is delivered (its event
  then needs no ``outboxMarker``: the poller meets it here; ``PaidNotFulfilled`` is counted from it). A payment
  still open at the give-up age moves to ``openMarker = "GAVEUP#<n>"`` with
  ``gaveUpAt`` (and ``nextCheckAt`` = that time): no longer checked, listed by ``pay1st_ops report``.
- The transactional outbox: ``outbox`` (map event id → event JSON), ``outboxMarker = "PENDING#<n>"`` and
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
- ``refundsOpen`` counts open refunds; while it is above zero the item carries ``refundOpenMarker = "OPEN#<n>"``
  and ``refundOpenSince`` (sparse GSI ``openRefunds``), so refunds open too long can be found and reported.
- A refundReference is unique for the lifetime of the integration (it is Pay1st's partnerRefundReference),
  so each also has a small pointer item, key ``refund#<refundReference>`` → ``refundOf`` (the payment's
  partnerReference). ``#`` never occurs in a partnerReference, so a pointer can never be taken for a payment.
- ``reversals`` (map kind → ``{at, source}``): REFUND or CHARGEBACK confirmed by the gateway (§9, §16).
- ``statusQueries`` (map ``at`` → entry, at most ``MAX_STATUS_QUERIES``): the payment's status queries to the
  gateway, each ``{at, by, outcome}`` with ``answer`` (the gateway's status) or ``error`` (and ``httpStatus``),
  added by the write that records the answer (the transition, or the status check), never a write of its
  own. A map, not a list: an entry is added by its key and the oldest removed by theirs in that one write
  (a list cannot be appended to and trimmed in one update expression), so a writer holding an older read
  never drops another's entry; the bound may be passed by a concurrent entry until the next write.
- Attempts (``pay1st_partner.payments.attempts``): ``attemptReference`` (the partnerReference the current attempt was
  created under at Pay1st; absent: the partnerReference itself), ``attempts`` (list, oldest first: the
  earlier attempts, see ``PaymentRecord.attempts``), ``doublePaid`` (true once two attempts were paid) and
  ``attemptsExhaustedAt`` (when the last attempt was refused as a duplicate too: the payment ends there).
  Each derived reference also has a pointer item, key ``attempt#<reference>`` → ``attemptOf`` (as for
  refunds), so a webhook naming it finds the payment and a reference is never handed to two payments.
- In-progress steps (§9, ``pay1st_partner.payments.steps``): ``step`` (map ``{status, at, during, source}``:
  the gateway's latest step, ``during`` the payment's status when it was reported), ``stepsTold`` (map step →
  when its ``Payment In Progress`` event was written) and ``stepToldAt`` (the newest of those: the condition
  of the next one, so two writers never both tell within the interval).
- ``transactionId``: the latest ``C-…-T`` transaction id Pay1st sent for the payment (create answer, status
  query, webhook; §15), which a refund names instead of ``reference`` with ``RefundTransactionReference``.
- Owed confirmations (``pay1st_partner.payments.owed``, DESIGN §9): ``owed`` (map Pay1st reference →
  ``{attemptReference, reported, since}``, at most ``MAX_OWED``): a status a signed webhook reported that
  could not be confirmed yet (query slot taken, or the query failed). While it holds anything the payment
  stays on the watch list (index ``watchList``), ``nextCheckAt`` = when the slot frees: an open payment with
  its ``OPEN#<n>`` marker, any other (final, or no Pay1st reference yet) with ``openMarker = "OWED#<n>"``
  (same index, its own partitions; a SUCCESSFUL payment's event is then marked ``pendingEvents``, and it goes
  back to ``OPEN#<n>`` once nothing is owed if its fulfilment is not delivered). Transitions, scheduled
  checks and the watch list's own writes of a payment read without ``owed`` hold only while it still has none,
  so none can take an owed payment off the schedule or push its check later.
- Claim ids (``claimId``, :func:`new_claim_id`) on every conditional claim: the payment item, each refund
  entry, each fulfilment, each attempt entry a new attempt adds. A claim whose condition fails is looked up
  by its id: found, it was this very write, applied before (a retried request), and it succeeds.
- ``audit`` (list, oldest first, at most ``MAX_AUDIT_ENTRIES``): what operators did to the payment
  (``pay1st_ops``: reconcile, replay, republish, redrive), each ``{at, who, action, detail}``, and
  ``auditCount`` (entries ever written: the condition of the next append). Operators find payments by status
  and age with a scan (no index every transition would pay for).

Sharded markers (no hot partition). A sparse index whose partition key is one constant puts every write of
every open payment (or pending event) on ONE partition, and a partition takes at most 1,000 write units/s
(and 3,000 read units/s); DynamoDB's split-for-heat cannot help, because the sort keys (timestamps) only
grow. So each marker is ``<MARKER>#<n>``, n = CRC-32 of the partnerReference mod ``SHARD_COUNT`` (stable
across processes and releases), and readers query every shard and merge by the sort key. Arithmetic: an
open payment's item (~1.5-2.5 KB, projected ALL) costs ~2-3 WCU per write on each index it is in, and is
written ~8 times while open (claim slot, transitions, scheduled checks); at 100 new payments/s that is
~100 x 8 x 2.5 = 2,000 WCU/s per index: twice one partition's limit on one key, 250 WCU/s per shard with
8 shards (4x headroom; ~400 payments/s before one shard saturates). A reader pays 8 queries instead of one
(9 with the legacy partition) per poll: nothing at one poll a minute. ``SHARD_COUNT`` may only grow
(readers query shards 0..SHARD_COUNT-1; an item on a higher shard would be missed).

Upgrade from unsharded markers: items written before hold ``outboxMarker = "PENDING"``, ``refundOpenMarker =
"OPEN"``; their readers also query that legacy partition. Legacy ``openMarker = "OPEN"`` items (no
``nextCheckAt``) are not on the watch list: the upgrade (CHANGELOG.md) checks none is left first.
"""

from __future__ import annotations

import copy
import functools
import secrets
import zlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pay1st.models import FulfilmentItem, MetadataItem, PaymentRequest, Product

from pay1st_partner import refund_state, state
from pay1st_partner.clock import isoformat
from pay1st_partner.records import PaymentRecord, RefundRecord, amount_text

OPEN_MARKER = "OPEN"
OUTBOX_PENDING = "PENDING"
GAVE_UP_MARKER = "GAVEUP"
OWED_MARKER = "OWED"
# Owed confirmations a payment may carry at once (one per Pay1st reference that reported).
MAX_OWED = 10
# Partitions of every sparse index (see above); only ever raise it.
SHARD_COUNT = 8
WATCH_LIST_INDEX = "watchList"
PENDING_EVENTS_INDEX = "pendingEvents"
OPEN_REFUNDS_INDEX = "openRefunds"
MAX_AUDIT_ENTRIES = 50
MAX_STATUS_QUERIES = 20
REFUND_POINTER_PREFIX = "refund#"
ATTEMPT_POINTER_PREFIX = "attempt#"
REQUESTED_ALL = "ALL"
MAX_REFUNDS_PER_PAYMENT = 20


def stays_watched(status: str, reference: str | None) -> bool:
    """Whether a payment in ``status`` is on the watch list (``openMarker``/``nextCheckAt``, index ``watchList``):
    open with a Pay1st reference (the poller checks it), or SUCCESSFUL (until its fulfilment is delivered)."""
    return reference is not None and (not state.is_final(status) or status == state.SUCCESSFUL)


def new_claim_id() -> str:
    """A claim's own id (``claimId``): a write retried after it was applied (an SDK retry after a lost answer)
    finds its own claim in the item and counts as done, instead of taking it for someone else's. 96 random
    bits in 16 characters (not a 32-digit uuid): two claims of one key never meet the same id, and the payment
    item, which carries two (its own and its fulfilment's), stays under 1 KB: one write unit a write."""
    return secrets.token_urlsafe(12)


def shard_of(partner_reference: str) -> int:
    """The payment's shard: stable (CRC-32, not ``hash()``, which changes per process)."""
    return zlib.crc32(partner_reference.encode("utf-8")) % SHARD_COUNT


def sharded(marker: str, partner_reference: str) -> str:
    """The marker value this payment carries in a sparse index: ``<marker>#<shard>``."""
    return f"{marker}#{shard_of(partner_reference)}"


def marker_partitions(marker: str, *, legacy: bool = True) -> list[str]:
    """Every partition a reader queries for ``marker``: each shard, and the unsharded legacy one."""
    return [f"{marker}#{n}" for n in range(SHARD_COUNT)] + ([marker] if legacy else [])


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
        "claimId": new_claim_id(),
    }
    if reason is not None:
        entry["reason"] = reason
    return entry


_IMMUTABLE = frozenset({str, int, float, bool, Decimal, bytes, type(None)})


def clone(value: Any) -> Any:
    """A deep copy of an item's plain data (so no caller shares a stored item's dicts): dicts and lists
    rebuilt, immutable leaves shared, anything else ``copy.deepcopy``'d. Three times as fast as
    ``copy.deepcopy`` on items, which keeps a memo of every node (the simulation spent a third of its time
    there). Leaves are tested inline, not by a call each: most of an item is leaves."""
    kind = type(value)
    if kind is dict:
        return {key: inner if type(inner) in _IMMUTABLE else clone(inner) for key, inner in value.items()}
    if kind is list:
        return [inner if type(inner) in _IMMUTABLE else clone(inner) for inner in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


@functools.lru_cache(maxsize=4096)
def _product(title: str, sku: str, price: str, quantity: int, currency_code: str) -> Product:
    """A stored product as the domain's (frozen, so one may be shared). Cached: a payment's products never
    change and are read with it on every check, and validating them again was a fifth of mapping an item."""
    return Product(title=title, sku=sku, price=Decimal(price), quantity=quantity, currency_code=currency_code)


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


def payment_fields(record: PaymentRecord) -> dict[str, str]:
    """The item's own ``amount``, ``currencyCode`` and ``countryCode``, as stored (an outbox entry leaves out
    what equals them: ``OutboxEvent.to_stored_json``)."""
    return {
        "amount": amount_text(record.amount),
        "currencyCode": record.currency_code,
        "countryCode": record.country_code,
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
        "statusQueries": {},
        "claimId": new_claim_id(),
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
        "claimId": new_claim_id(),
    }


def history_entry(status: str, now: str, source: str) -> dict[str, Any]:
    return {"status": status, "at": now, "source": source}


def conflict_entry(status: str, recorded_status: str, now: str, source: str) -> dict[str, Any]:
    return {"status": status, "recordedStatus": recorded_status, "at": now, "source": source}


def _status_queries(stored: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], ...] | None:
    return None if stored is None else tuple(clone(stored[key]) for key in sorted(stored))


def record_from_item(data: Mapping[str, Any]) -> PaymentRecord:
    """Map a stored item to the domain record (DynamoDB numbers come back as Decimal). The record shares no
    dict or list with ``data``, so a store may map the item it holds (nothing it returns changes it), and
    copies only what the record keeps (not the history, audit or outbox)."""
    fulfilment = data.get("fulfilment")
    if fulfilment is not None:
        fulfilment = {
            **clone(fulfilment),
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
            # The price as text: equal Decimals (10.0, 10.00) are one cache key, their texts are not.
            _product(p["title"], p["sku"], str(p["price"]), int(p["quantity"]), p["currencyCode"])
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
        conflicts=tuple(clone(data.get("conflicts", []))),
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
        reversals=clone(dict(data.get("reversals", {}))),
        status_queries=_status_queries(data.get("statusQueries")),
        attempt_reference=data.get("attemptReference"),
        attempts=tuple(clone(list(data.get("attempts", ())))),
        double_paid=bool(data.get("doublePaid", False)),
        step=clone(data.get("step")),
        steps_told=dict(data.get("stepsTold", {})),
        transaction_id=data.get("transactionId"),
        attempts_exhausted_at=data.get("attemptsExhaustedAt"),
        owed={str(key): clone(dict(entry)) for key, entry in data.get("owed", {}).items()},
        next_check_at=data.get("nextCheckAt"),
    )
