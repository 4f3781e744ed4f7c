"""The payment domain's records: what a payment is, what a claim and a status change return.

Plain frozen dataclasses, mapped from and to storage by the stores (``payment_items``); nothing here
knows about DynamoDB. Money is ``Decimal`` and goes back out as the text the partner wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pay1st.models import FulfilmentItem, MetadataItem, Product

from pay1st_partner import state
from pay1st_partner.clock import parse_iso

if TYPE_CHECKING:
    from pay1st_partner.events import OutboxEvent


def amount_text(value: Decimal) -> str:
    """An amount as written by the partner, in plain notation (``250.50`` stays ``250.50``)."""
    return format(value, "f")


class ReferenceMismatch(Exception):
    """A status report names a different Pay1st reference than the one stored for the partnerReference."""


@dataclass(frozen=True)
class PaymentRecord:
    partner_reference: str
    reference: str | None
    status: str
    amount: Decimal
    currency_code: str
    country_code: str
    products: tuple[Product, ...]
    metadata: tuple[MetadataItem, ...]
    fingerprint: str
    channel_id: str | None
    created_at: str
    updated_at: str
    last_checked_at: str | None
    fulfilment: Mapping[str, Any] | None
    # Beyond the agreed API: diagnostics the status route and the tests read.
    last_unknown_status: str | None = None
    conflicts: tuple[Mapping[str, Any], ...] = ()
    pending_event_ids: tuple[str, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return state.is_open(self.status)

    @property
    def is_final(self) -> bool:
        return state.is_final(self.status)

    def fulfilment_items(self) -> tuple[FulfilmentItem, ...]:
        """The recorded fulfilment as the gateway client's items (for the §12 notification)."""
        if not self.fulfilment:
            return ()
        return tuple(
            FulfilmentItem(
                sku=item["sku"],
                quantity=int(item["quantity"]),
                fulfilment_time=parse_iso(item["fulfilmentTime"]),
                fulfilment_status=item["fulfilmentStatus"],
            )
            for item in self.fulfilment.get("items", ())
        )


@dataclass(frozen=True)
class Claim:
    created: bool  # False → ``record`` is the payment that already held this partnerReference
    record: PaymentRecord


@dataclass(frozen=True)
class Transition:
    """The result of reporting a status: whether it was applied and the event it produced, if any."""

    verdict: state.Verdict
    previous_status: str
    status: str  # the reported status
    record: PaymentRecord  # the item after the write (or as read, when nothing was written)
    event: OutboxEvent | None = None

    @property
    def applied(self) -> bool:
        return self.verdict is state.Verdict.APPLY
