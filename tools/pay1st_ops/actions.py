"""What operators do: read a payment and its webhooks, and the commands that change something (reconcile,
replay a stored webhook, republish events, redrive fulfilments), each leaving an audit record on the payment.

Every change goes through the layer's own code, as the functions run it: a status query through
``Reconciler.refresh`` (conditional transitions, events through the outbox), a replay through the webhook
intake (the stored record decides whether it is processed again), a republish through the publisher.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pay1st.errors import Pay1stError
from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.errors import DomainError
from pay1st_partner.payments.fulfilment import UndeliverableFulfilment, parse_queue_message
from pay1st_partner.payments.reconcile import (
    AMOUNT_MISMATCH,
    GATEWAY_REJECTED,
    GATEWAY_UNAVAILABLE,
    NO_REFERENCE,
    QUERY_THROTTLED,
    REFERENCE_MISMATCH,
    REVERSED,
)
from pay1st_partner.state import Verdict
from pay1st_partner.store.codec import from_item
from pay1st_partner.store.items import MAX_AUDIT_ENTRIES
from pay1st_partner.webhooks.auth import (
    BASIC_AUTH_SCHEME,
    SIGNING_KEY_SCHEME,
    Authentication,
    WebhookAuthenticator,
)
from pay1st_partner.webhooks.intake import WebhookIntake
from pay1st_partner.webhooks.refund_intake import RefundWebhookIntake
from pay1st_partner.webhooks.rejections import REJECTED_PREFIX

from pay1st_ops.history import KnownEvent, payment_events
from pay1st_ops.wiring import Services

WEBHOOKS_INDEX = "paymentWebhooks"
OPERATOR_SOURCE = "operator"


class OpsError(Exception):
    """What the operator asked cannot be done; said in one line (exit 1)."""


# ------------------------------------------------------------------------------------------------ reads


def payment_item(services: Services, partner_reference: str) -> Mapping[str, Any]:
    item = services.store.item(partner_reference)
    if item is None or "status" not in item:  # a refund pointer is not a payment
        raise OpsError(f"no payment {partner_reference!r}")
    return item


def webhooks_of(services: Services, partner_reference: str) -> list[dict[str, Any]]:
    """The payment's accepted webhooks, oldest first (index ``paymentWebhooks``, keys only: each is then read by
    its key; bodies left out)."""
    table = services.target.resource("WebhookEventsTable")
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": WEBHOOKS_INDEX,
        "KeyConditionExpression": "partnerReference = :ref",
        "ExpressionAttributeValues": {":ref": {"S": partner_reference}},
    }
    found: list[dict[str, Any]] = []
    while True:
        response = services.dynamodb.query(**kwargs)
        for key in response.get("Items", []):
            item = services.dynamodb.get_item(TableName=table, Key={"eventId": key["eventId"]}).get("Item")
            if not item:
                continue  # expired since the index was read
            data = from_item(item)
            data.pop("body", None)
            found.append(data)
        if "LastEvaluatedKey" not in response:
            return found
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# ------------------------------------------------------------------------------------------------ audit


def audit(services: Services, partner_reference: str, who: str, action: str, detail: str) -> None:
    entry = {"at": isoformat(utcnow()), "who": who, "action": action, "detail": detail}
    services.store.add_audit(partner_reference, entry, keep=MAX_AUDIT_ENTRIES)


# -------------------------------------------------------------------------------------------- reconcile


@dataclass(frozen=True)
class Reconciled:
    partner_reference: str
    outcome: str
    gateway_status: str | None
    before: str
    after: str

    @property
    def message(self) -> str:
        """What happened, in words: the outcome codes (``duplicate``, ``stale``...) are the webhook intake's
        vocabulary, and a query that never reached Pay1st has no answer to quote."""
        said, before, after = self.gateway_status, self.before, self.after
        words = {
            Verdict.APPLY.value: f"{before} -> {after}: Pay1st says {said}, applied",
            Verdict.SAME.value: f"no change: Pay1st says {said}, as recorded",
            Verdict.STALE.value: f"no change: Pay1st says {said}, a status before the recorded {before}",
            Verdict.CONFLICT.value: f"not applied: Pay1st says {said} but the payment ended {before}; the conflict "
            "is recorded and alarmed: ask Pay1st which is right",
            Verdict.UNKNOWN.value: f"no change: Pay1st says {said}, a status the bundle does not know (recorded)",
            REVERSED: f"Pay1st reports a {said} of the paid payment: recorded, its event published",
            QUERY_THROTTLED: "not asked: this payment's status was queried less than the query interval ago "
            "(try again shortly, or --query-interval)",
            GATEWAY_UNAVAILABLE: "not asked: Pay1st could not be reached or answered with an error; no change",
            GATEWAY_REJECTED: "Pay1st refused the status query (4xx); no change",
            NO_REFERENCE: f"not asked: the payment has no Pay1st reference yet ({before}); no change",
            AMOUNT_MISMATCH: f"not applied: Pay1st's answer ({said}) has another amount or currency",
            REFERENCE_MISMATCH: f"not applied: Pay1st's answer ({said}) names another payment",
        }
        if self.outcome in words and (said is not None or self.outcome not in _QUOTES_PAY1ST):
            return words[self.outcome]
        quoted = f", Pay1st says {said}" if said is not None else ""
        return f"outcome {self.outcome}{quoted}, {before} -> {after}"


# The outcomes whose words quote Pay1st's answer (without one, the generic line says what is known).
_QUOTES_PAY1ST = frozenset({v.value for v in Verdict} | {REVERSED, AMOUNT_MISMATCH, REFERENCE_MISMATCH})


def reconcile(services: Services, partner_reference: str, who: str) -> Reconciled:
    """A status query now, applied as the poller applies it (rationed like every other query)."""
    record = services.payments.get(partner_reference)
    if record is None:
        raise OpsError(f"no payment {partner_reference!r}")
    outcome = services.reconciler.refresh(record, source=OPERATOR_SOURCE)
    result = Reconciled(
        partner_reference, outcome.outcome, outcome.gateway_status, record.status, outcome.record.status
    )
    audit(services, partner_reference, who, "reconcile", f"{result.message} (outcome {result.outcome})")
    return result


# ------------------------------------------------------------------------------------------------ replay


class _AsRecorded(WebhookAuthenticator):
    """Authentication as recorded when the event arrived: a replay has no headers to verify again."""

    def __init__(self, recorded: Authentication, *, partner_code: str | None, partner_id: str | None) -> None:
        super().__init__(signing_key=lambda: "", mode="any", partner_code=partner_code, partner_id=partner_id)
        self._recorded = recorded

    def authenticate(self, raw_body: bytes, headers: Mapping[str, str]) -> Authentication:
        return self._recorded


@dataclass(frozen=True)
class Replayed:
    event_id: str
    outcome: str
    previous_outcome: str | None
    partner_reference: str | None
    error: str | None = None
    body: dict[str, Any] = field(default_factory=dict)


def replay_webhook(services: Services, event_id: str, who: str) -> Replayed:
    """Run a stored inbound webhook through the intake again; an event already finished changes nothing."""
    if event_id.startswith(REJECTED_PREFIX):
        raise OpsError(
            "a rejected webhook is kept without its body (it was not authenticated): nothing to replay"
        )
    stored = services.webhook_events.get(event_id)
    if stored is None or "body" not in stored:
        raise OpsError(f"no stored webhook {event_id!r} (kept 90 days)")
    body = bytes(stored["body"].value if hasattr(stored["body"], "value") else stored["body"])
    previous = stored.get("outcome")
    scheme = stored.get("signatureScheme")
    if stored.get("signatureVerified") and scheme is None:
        # Keyed on the trimmed body only under basic-auth (``intake``): the key tells the scheme.
        scheme = SIGNING_KEY_SCHEME if hashlib.sha256(body).hexdigest() == event_id else BASIC_AUTH_SCHEME
    authenticator = _AsRecorded(
        Authentication(scheme if stored.get("signatureVerified") else None),
        partner_code=services.target.parameters.get("Pay1stPartnerCode") or None,
        partner_id=services.target.parameters.get("Pay1stPartnerId") or None,
    )
    error = None
    result_body: dict[str, Any] = {}
    try:
        if stored.get("kind") == "refund":
            intake: Any = RefundWebhookIntake(
                store=services.webhook_events,
                refunds=services.refunds,
                publisher=services.publisher,
                authenticator=authenticator,
            )
        else:
            intake = WebhookIntake(
                store=services.webhook_events,
                payments=services.payments,
                reconciler=services.reconciler,
                authenticator=authenticator,
            )
        result_body = intake.handle(body, {}).body()
    except (DomainError, Pay1stError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    after = services.webhook_events.get(event_id) or {}
    _count_replay(services, event_id, who)
    reference = after.get("partnerReference")
    outcome = str(after.get("outcome", result_body.get("outcome", "?")))
    if reference:
        audit(services, str(reference), who, "replay-webhook", f"{event_id}: {previous} -> {outcome}")
    return Replayed(event_id, outcome, previous, reference, error, result_body)


def _count_replay(services: Services, event_id: str, who: str) -> None:
    """The webhook record counts operator replays apart from Pay1st's redeliveries (``receivedCount``
    counts both: the intake records a replay like any delivery)."""
    services.dynamodb.update_item(
        TableName=services.target.resource("WebhookEventsTable"),
        Key={"eventId": {"S": event_id}},
        UpdateExpression="SET lastReplayedAt = :now, lastReplayedBy = :who ADD replayCount :one",
        ExpressionAttributeValues={
            ":now": {"S": isoformat(utcnow())},
            ":who": {"S": who},
            ":one": {"N": "1"},
        },
    )


# --------------------------------------------------------------------------------------------- republish


def events_to_republish(services: Services, partner_reference: str, event_id: str | None) -> list[KnownEvent]:
    known = payment_events(payment_item(services, partner_reference))
    if event_id is None:
        if not known:
            raise OpsError(
                f"payment {partner_reference!r} has no events (NEW and internal statuses have none)"
            )
        return known
    chosen = [k for k in known if k.event.event_id == event_id]
    if not chosen:
        ids = ", ".join(k.event.event_id for k in known) or "none"
        raise OpsError(f"payment {partner_reference!r} has no event {event_id!r} (it has: {ids})")
    return chosen


def republish(services: Services, partner_reference: str, known: list[KnownEvent], who: str) -> list[str]:
    """Publish again with the original ids (consumers dedupe on them); clears them from the outbox."""
    sent = services.publisher.publish([k.event for k in known], services.payments)
    ids = [event.event_id for event in sent]
    missing = [k.event.event_id for k in known if k.event.event_id not in ids]
    detail = f"published {', '.join(ids) or 'nothing'}" + (
        f"; EventBridge refused {', '.join(missing)}" if missing else ""
    )
    audit(services, partner_reference, who, "republish", detail)
    if missing:
        raise OpsError(
            f"EventBridge did not accept {', '.join(missing)} (still in the outbox: the poller retries)"
        )
    return ids


# ---------------------------------------------------------------------------------------------- redrive


def dead_letter_depth(services: Services) -> int:
    attributes = services.target.client("sqs").get_queue_attributes(
        QueueUrl=services.target.resource("FulfilmentDeadLetterQueue"),
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


@dataclass
class Redriven:
    moved: int = 0
    payments: list[str] = field(default_factory=list)
    failed: int = 0


def redrive_fulfilments(services: Services, who: str) -> Redriven:
    """Move every message of the fulfilment DLQ back to the fulfilment queue (each is safe to send twice:
    delivery is idempotent on ``fulfilment.deliveredAt``); each payment named gets an audit record, with the
    delivery attempts that failed before (the message's receive count, kept by SQS across the dead-lettering,
    less this receive): the redriven message is a new one and counts its attempts from 1."""
    sqs = services.target.client("sqs")
    dlq = services.target.resource("FulfilmentDeadLetterQueue")
    queue = services.target.resource("FulfilmentQueue")
    result = Redriven()
    failed_before: dict[str, str] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            WaitTimeSeconds=1,
            AttributeNames=["ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"],
        ).get("Messages", [])
        if not messages:
            break
        entries = [{"Id": str(n), "MessageBody": m["Body"]} for n, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        moved = {entry["Id"] for entry in sent.get("Successful", [])}
        result.failed += len(messages) - len(moved)
        done = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
            for n, m in enumerate(messages)
            if str(n) in moved
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq, Entries=done)
        for n, message in enumerate(messages):
            if str(n) not in moved:
                continue  # left in the DLQ (visible again in a minute)
            result.moved += 1
            try:
                partner_reference = parse_queue_message(message["Body"])
            except UndeliverableFulfilment:
                continue  # moved as it was; it names no payment to audit
            result.payments.append(partner_reference)
            failed_before[partner_reference] = _failed_attempts(message.get("Attributes", {}))
        if result.failed:
            break  # do not spin on a queue that refuses sends
    for partner_reference in sorted(set(result.payments)):
        audit(
            services,
            partner_reference,
            who,
            "redrive-fulfilments",
            "fulfilment moved from the DLQ to its queue" + failed_before.get(partner_reference, ""),
        )
    return result


def _failed_attempts(attributes: Mapping[str, str]) -> str:
    """`` after N failed delivery attempts since T`` from a dead letter's attributes ("" when unknown)."""
    count = str(attributes.get("ApproximateReceiveCount", ""))
    first = str(attributes.get("ApproximateFirstReceiveTimestamp", ""))
    if not count.isdigit() or int(count) < 2:
        return ""
    since = f" since {isoformat(datetime.fromtimestamp(int(first) / 1000, UTC))}" if first.isdigit() else ""
    return f" after about {int(count) - 1} failed delivery attempt(s){since}"
