"""What makes two requests "the same": the digests behind idempotent create and fulfilment.

A repeat with the same digest is answered like the original; the same key with another digest is a 409.
Items keep 128 bits of a digest (:func:`kept`): ample to tell two requests for one key apart, and 32 bytes
fewer on the payment item each keep it under 1 KB, one write unit a write. Digests stored in full (before)
still match (:func:`same`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pay1st.models import FulfilmentItem, PaymentRequest

KEPT_HEX_DIGITS = 32  # 128 bits


def kept(digest: str) -> str:
    """What an item stores of ``digest``."""
    return digest[:KEPT_HEX_DIGITS]


def same(stored: str | None, digest: str) -> bool:
    """Whether ``stored`` (kept, or in full by an earlier release) is ``digest``'s."""
    return stored is not None and stored in (kept(digest), digest)


def _canonical_amount(value: Decimal) -> str:
    """Canonical text of an amount: 250.50 and 250.5 are the same money."""
    normalized = value.normalize()
    return format(normalized, "f") if normalized != 0 else "0"


def _sha256_json(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fingerprint(request: PaymentRequest) -> str:
    """What makes two create requests "the same payment": amount, currency, country and products."""
    return _sha256_json(
        {
            "amount": _canonical_amount(request.amount),
            "currencyCode": request.currency_code,
            "countryCode": request.country_code,
            "products": [
                {
                    "title": product.title,
                    "sku": product.sku,
                    "price": _canonical_amount(product.price),
                    "quantity": product.quantity,
                    "currencyCode": product.currency_code,
                }
                for product in request.products
            ],
        }
    )


def fulfilment_fingerprint(items: Sequence[FulfilmentItem]) -> str:
    """Sku, quantity and status only: a retried fulfilment with a later default time is the same one."""
    return _sha256_json(
        [
            {"sku": item.sku, "quantity": item.quantity, "fulfilmentStatus": item.fulfilment_status}
            for item in items
        ]
    )
