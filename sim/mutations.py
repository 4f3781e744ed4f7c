"""Bugs of the kinds the bundle guards against, reintroduced one at a time in process (``--mutation NAME``),
to prove the simulation finds them. Each patches the layer's real code for one run and is undone after it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MUTATIONS: dict[str, tuple[str, Callable[[Any], Callable[[], None]]]] = {}


def mutation(
    name: str, what: str
) -> Callable[[Callable[[Any], Callable[[], None]]], Callable[[Any], Callable[[], None]]]:
    def register(fn: Callable[[Any], Callable[[], None]]) -> Callable[[Any], Callable[[], None]]:
        MUTATIONS[name] = (what, fn)
        return fn

    return register


def apply(name: str, world: Any) -> Callable[[], None]:
    if name not in MUTATIONS:
        raise SystemExit(f"unknown mutation {name!r}; known: {', '.join(sorted(MUTATIONS))}")
    return MUTATIONS[name][1](world)


def _patch(owner: Any, name: str, value: Any) -> Callable[[], None]:
    """Set ``owner.name``; the undo restores it, or (a method ``owner`` inherits) removes the override."""
    if isinstance(owner, type) and name not in owner.__dict__:
        setattr(owner, name, value)
        return lambda: delattr(owner, name)
    old = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    return lambda: setattr(owner, name, old)


@mutation("publish_before_commit", "Reconciler.apply publishes a status's event before its conditional write")
def _publish_before_commit(world: Any) -> Callable[[], None]:
    from pay1st_partner.clock import isoformat
    from pay1st_partner.events import payment_event
    from pay1st_partner.payments.reconcile import Reconciler

    original = Reconciler.apply

    def apply(self: Any, record: Any, status: str, **kwargs: Any) -> Any:
        event = payment_event(
            record, status, reference=kwargs.get("reference"), occurred_at=isoformat(world.clock.datetime())
        )
        if event is not None and record.status != status:
            self._publisher.publish([event], self._payments)
        return original(self, record, status, **kwargs)

    return _patch(Reconciler, "apply", apply)


@mutation(
    "no_status_condition", "a status write no longer holds only while the stored status is the one read"
)
def _no_status_condition(world: Any) -> Callable[[], None]:
    store = world.raw_store
    original = store.write_transition

    def write_transition(change: Any) -> Any:
        item = store._items.get(change.record.partner_reference)
        if item is not None:
            item["status"] = change.record.status  # the condition then always holds
        return original(change)

    store.write_transition = write_transition
    return lambda: None


@mutation(
    "refund_bound_ignores_self",
    "a refund's reservation is checked against the whole amount, not amount minus itself",
)
def _refund_bound(world: Any) -> Callable[[], None]:
    store = world.raw_store
    original = store.add_refund

    def add_refund(partner_reference: str, entry: Any, *, reserve_up_to: Any, at: str) -> Any:
        from decimal import Decimal

        return original(
            partner_reference, entry, reserve_up_to=reserve_up_to + Decimal(str(entry["amount"])), at=at
        )

    store.add_refund = add_refund
    return lambda: None


@mutation("no_query_rationing", "the status-query slot is never refused (every caller queries)")
def _no_rationing(world: Any) -> Callable[[], None]:
    from pay1st_partner.payments.repository import PaymentRepository

    original = PaymentRepository.claim_status_query

    def claim_status_query(self: Any, partner_reference: str, **kwargs: Any) -> bool:
        original(self, partner_reference, **kwargs)
        return True

    return _patch(PaymentRepository, "claim_status_query", claim_status_query)


@mutation("outbox_never_republished", "the poller no longer re-publishes what a crash left in the outbox")
def _outbox(world: Any) -> Callable[[], None]:
    from pay1st_partner.payments.repository import PaymentRepository

    return _patch(PaymentRepository, "pending_events", lambda self, **kwargs: [])


@mutation(
    "superseded_failure_applied",
    "a superseded attempt's FAILED/CANCELLED/ABANDONED is applied to the payment",
)
def _superseded(world: Any) -> Callable[[], None]:
    from pay1st_partner.webhooks.intake import WebhookIntake

    original = WebhookIntake._superseded

    def superseded(self: Any, record: Any, attempt_reference: str, event: Any, **kwargs: Any) -> Any:
        if event.status in ("FAILED", "CANCELLED", "ABANDONED") and record.is_open:
            return self._reconciler.apply(record, event.status, source="webhook")
        return original(self, record, attempt_reference, event, **kwargs)

    return _patch(WebhookIntake, "_superseded", superseded)


@mutation("no_signature_check", "webhook authentication accepts any signature")
def _no_signature(world: Any) -> Callable[[], None]:
    from pay1st_partner.webhooks.auth import SIGNING_KEY_SCHEME, Authentication, WebhookAuthenticator

    return _patch(
        WebhookAuthenticator, "authenticate", lambda self, raw, headers: Authentication(SIGNING_KEY_SCHEME)
    )


@mutation("fulfil_reversed", "a fulfilment is recorded on a charged-back payment")
def _fulfil_reversed(world: Any) -> Callable[[], None]:
    store = world.raw_store
    original = store.put_fulfilment

    def put_fulfilment(partner_reference: str, fulfilment: Any, **kwargs: Any) -> Any:
        item = store._items.get(partner_reference)
        reversals = item.pop("reversals", None) if item is not None else None
        try:
            return original(partner_reference, fulfilment, **kwargs)
        finally:
            if reversals is not None:
                item["reversals"] = reversals

    store.put_fulfilment = put_fulfilment
    return lambda: None
