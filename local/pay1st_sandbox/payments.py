"""A payment as the gateway keeps it, its lifecycle, and the documents it appears in (§7, §9, §10)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from .catalogue import ChannelEntry
from .flows import FlowPosition
from .instruments import IN_PROGRESS_STATUSES, PAY_OFFLINE
from .signing import format_timestamp

NEW = "NEW"
PENDING = "PENDING"
SUCCESSFUL = "SUCCESSFUL"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
ABANDONED = "ABANDONED"
FINAL_STATUSES = frozenset({SUCCESSFUL, FAILED, CANCELLED, ABANDONED})
# Reversals of a paid payment (§9, §15, §16): a full refund, a chargeback.
REFUND = "REFUND"
CHARGEBACK = "CHARGEBACK"

# Open statuses a button or control call may settle: a payment part-way through its method's steps (§14)
# can still be paid, failed, cancelled or abandoned.
_OPEN = frozenset({NEW, PENDING}) | IN_PROGRESS_STATUSES
# Outcome (button or control call) -> (status it leads to, statuses it may start from).
OUTCOMES: dict[str, tuple[str, frozenset[str]]] = {
    "pay": (SUCCESSFUL, _OPEN),
    "fail": (FAILED, _OPEN),
    "cancel": (CANCELLED, _OPEN),
    "offline": (PENDING, frozenset({NEW})),
    "abandon": (ABANDONED, _OPEN),
    "settle-offline": (SUCCESSFUL, frozenset({PENDING, PAY_OFFLINE})),
}
# Waiting for money paid outside the page: settles by itself after offline_settle_seconds.
OFFLINE_STATUSES = frozenset({PENDING, PAY_OFFLINE})
# Reversal -> (status, statuses it may start from): made by a full refund and by the chargeback control
# call, never by a checkout button or the settle control call.
REVERSALS: dict[str, tuple[str, frozenset[str]]] = {
    "refund": (REFUND, frozenset({SUCCESSFUL})),
    "chargeback": (CHARGEBACK, frozenset({SUCCESSFUL, REFUND})),
}

# Status -> the callback (§11) the browser is sent to. ABANDONED has no callback of its own in the
# contract; the customer did not complete, so it goes to the failure callback.
CALLBACK_FOR_STATUS = {
    SUCCESSFUL: "success",
    FAILED: "failure",
    CANCELLED: "cancel",
    PENDING: "pending",
    PAY_OFFLINE: "pending",
    ABANDONED: "failure",
}

# §7 field of each per-payment callback override, and the §9 partnerSettings key it is echoed as.
CALLBACK_FIELDS = {
    "success": ("callbackSuccessUrl", "successCallbackUrl"),
    "failure": ("callbackFailureUrl", "failureCallbackUrl"),
    "pending": ("callbackPendingUrl", "pendingCallbackUrl"),
    "cancel": ("callbackCancelUrl", "cancelCallbackUrl"),
}


@dataclass
class PaymentOrder:
    """What a §7 request asks for, validated: the part of a payment the partner chose."""

    amount: Decimal
    country_code: str
    currency_code: str
    partner_reference: str
    products: list[dict[str, Any]]
    request: dict[str, Any]
    webhook_url: str | None

    def order(self) -> dict[str, Any]:
        """These fields by name (the objects themselves, not copies)."""
        return {item.name: getattr(self, item.name) for item in fields(PaymentOrder)}


@dataclass
class Payment(PaymentOrder):
    reference: str
    callback_urls: dict[str, str | None]
    created_at: float
    updated_at: float
    # §15: Pay1st's transaction id of the payment, shown only in the transaction-reference mode.
    transaction_reference: str = ""
    status: str = NEW
    channel: ChannelEntry | None = None
    flow: FlowPosition | None = None  # where the payment is in its method's steps (§14), once chosen
    history: list[dict[str, Any]] = field(default_factory=list)

    def record(self, status: str, at: float, source: str) -> None:
        self.status = status
        self.updated_at = at
        self.history.append({"status": status, "at": format_timestamp(at), "source": source})

    def _transaction(self, transaction_ids: bool) -> dict[str, Any]:
        """§15 transaction-reference mode: the ``C-…-T`` id, in the field a refund names it by."""
        return {"transactionReference": self.transaction_reference} if transaction_ids else {}

    def created_document(self, transaction_ids: bool = False) -> dict[str, Any]:
        """The §7 201 body."""
        return {
            "reference": self.reference,
            **self._transaction(transaction_ids),
            "partnerReference": self.partner_reference,
            "countryCode": self.country_code,
            "currencyCode": self.currency_code,
            "amount": self.amount,
            "status": self.status,
        }

    def status_document(self, partner_id: int, transaction_ids: bool = False) -> dict[str, Any]:
        """The §9 200 body: the create request echoed, plus reference, status and partnerSettings."""
        document = dict(self.request)
        document.update(
            reference=self.reference,
            **self._transaction(transaction_ids),
            status=self.status,
            partnerSettings={
                "partnerId": partner_id,
                "webhookUrl": self.webhook_url,
                **{
                    settings_key: self.callback_urls[outcome]
                    for outcome, (_, settings_key) in CALLBACK_FIELDS.items()
                },
            },
        )
        if self.channel is not None:
            document.update(channelId=self.channel.entry_id, channelName=self.channel.name)
        return document

    def webhook_document(
        self, partner_id: int, partner_code: str, event_id: str, at: float, transaction_ids: bool = False
    ) -> dict[str, Any]:
        """The §10 event: the documented fields, then extras a partner must tolerate."""
        return {
            "partnerId": partner_id,
            "partnerCode": partner_code,
            "partnerReference": self.partner_reference,
            "reference": self.reference,
            **self._transaction(transaction_ids),
            "orderAmount": self.amount,
            "currencyCode": self.currency_code,
            "countryCode": self.country_code,
            "status": self.status,
            "eventId": event_id,
            "eventTime": format_timestamp(at),
            "channelId": self.channel.entry_id if self.channel else None,
            "channelName": self.channel.name if self.channel else None,
            "paymentMethod": self.channel.payment_method if self.channel else None,
            "customer": {"name": "Sandbox Customer", "email": "customer@sandbox.pay1st.invalid"},
        }

    def control_document(self, partner_id: int, transaction_ids: bool = False) -> dict[str, Any]:
        """Everything, for the control API."""
        return {
            "reference": self.reference,
            **self._transaction(transaction_ids),
            "partnerReference": self.partner_reference,
            "status": self.status,
            "amount": self.amount,
            "currencyCode": self.currency_code,
            "countryCode": self.country_code,
            "products": self.products,
            "channelId": self.channel.entry_id if self.channel else None,
            "channelName": self.channel.name if self.channel else None,
            "webhookUrl": self.webhook_url,
            "callbackUrls": dict(self.callback_urls),
            "createdAt": format_timestamp(self.created_at),
            "updatedAt": format_timestamp(self.updated_at),
            "history": list(self.history),
            "statusDocument": self.status_document(partner_id, transaction_ids),
        }
