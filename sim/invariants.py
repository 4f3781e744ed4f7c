"""The invariants (issue 22 §3), checked after every store write and at quiescence.

Per write (the payment written): statuses never regress and finals never change; never SUCCESSFUL here
unless Pay1st has the payment paid; refunded plus open refunds never exceed the amount; a charged-back
payment gets no new refund or fulfilment; a forged webhook writes nothing. Per published event: it belongs
to a transition that was committed. Per status read: the route answers what the store holds.

At quiescence (faults off, the schedule run out): paid at Pay1st ⇒ SUCCESSFUL here; two attempts paid ⇒
flagged ``doublePaid``; a reversal at Pay1st ⇒ recorded here; every committed transition's event published
(by event id) and no outbox left; every refund final or reported open too long; every accepted fulfilment
reached Pay1st (by its reference) or was dead-lettered (alarmed); gateway calls per payment bounded: at most
:data:`QUERIES_PER_WINDOW` status-query HTTP requests per payment in any :data:`WINDOW` seconds (one
background and one webhook query per interval, each retried at most ``max_attempts`` = 4 times).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WINDOW = 15.0
QUERIES_PER_WINDOW = 2 * 4
FINAL = frozenset({"SUCCESSFUL", "FAILED", "CANCELLED", "ABANDONED"})
RANK = {"CREATING": 0, "CREATE_UNKNOWN": 0, "NEW": 2, "PENDING": 3, "PENDING_INVESTIGATION": 4}
EVENTFUL = frozenset({"PENDING", "PENDING_INVESTIGATION", *FINAL})
REFUND_FINAL = frozenset({"SUCCESSFUL", "FAILED", "REJECTED"})

# Known open defects being fixed on branch ``signals`` (issue 21): how the simulator names them when it finds them.
ISSUE_21 = {
    "paid_not_successful:superseded": "issue 21: a paid superseded attempt lost when the status-query slot is taken",
    "paid_twice_unflagged": "issue 21: two attempts paid close together not flagged PaymentPaidTwice",
    "reversal_not_recorded:REFUND": "issue 21: a full refund's REFUND reversal lost when the slot is taken",
}


@dataclass
class Violation:
    invariant: str
    payment: str | None
    detail: str
    at: float

    @property
    def known(self) -> str | None:
        for key, text in ISSUE_21.items():
            if self.invariant == key or self.invariant.startswith(key + ":"):
                return text
        return None


class Checker:
    def __init__(self, world: Any) -> None:
        self.w = world
        self.violations: list[Violation] = []
        self.last_status: dict[str, str] = {}
        self.charged_back: set[str] = set()
        self.seen_refunds: dict[str, int] = {}
        self.seen_fulfilled: set[str] = set()
        self.forged: set[int] = set()
        world.violation = self.report
        world.check_view = self.check_view

    def report(self, invariant: str, payment: str | None, detail: str) -> None:
        violation = Violation(invariant, payment, detail, self.w.clock.now)
        self.violations.append(violation)
        self.w.trace(payment, f"VIOLATION {invariant}: {detail}")

    # ------------------------------------------------------------------ per write

    def on_write(self, invocation: Any, name: str, payment: str | None, result: Any) -> None:
        if invocation is not None and invocation.ident in self.forged and name != "add_audit":
            self.report("forged_webhook_wrote", payment, f"a forged webhook wrote {name}")
        if payment is None:
            return
        item = self.w.peek(payment)
        if item is None:
            return
        status = str(item.get("status"))
        before = self.last_status.get(payment)
        if before is not None and before != status:
            if before in FINAL:
                self.report("final_changed", payment, f"{before} -> {status}")
            elif status not in FINAL and RANK.get(status, 9) < RANK.get(before, 9):
                self.report("status_regressed", payment, f"{before} -> {status}")
        self.last_status[payment] = status
        if status == "SUCCESSFUL" and not self._paid_at_pay1st(item):
            self.report(
                "successful_not_paid",
                payment,
                f"SUCCESSFUL here, Pay1st reference {item.get('reference')} not paid",
            )
        amount = Decimal(str(item.get("amount")))
        reserved = Decimal(str(item.get("refundReserved", 0)))
        refunds = item.get("refunds") or {}
        held = sum(
            (
                Decimal(str(r["amount"]))
                for r in refunds.values()
                if r["status"] not in ("FAILED", "REJECTED")
            ),
            Decimal(0),
        )
        if reserved > amount or held > amount:
            self.report("over_refunded", payment, f"reserved {reserved}, held {held} of {amount}")
        if payment in self.charged_back:
            if len(refunds) > self.seen_refunds.get(payment, 0):
                self.report("charged_back_refunded", payment, "a refund was added after the chargeback")
            if item.get("fulfilment") and payment not in self.seen_fulfilled:
                self.report(
                    "charged_back_fulfilled", payment, "a fulfilment was recorded after the chargeback"
                )
        if "CHARGEBACK" in (item.get("reversals") or {}):
            self.charged_back.add(payment)
        self.seen_refunds[payment] = len(refunds)
        if item.get("fulfilment"):
            self.seen_fulfilled.add(payment)

    def _paid_at_pay1st(self, item: dict[str, Any]) -> bool:
        payment = self.w.gateway.payments.get(str(item.get("reference")))
        return payment is not None and payment.paid

    # ------------------------------------------------------------------ per event, per read

    def on_event(self, detail: dict[str, Any]) -> None:
        event_id = str(detail["eventId"])
        payment = str(detail.get("partnerReference"))
        item = self.w.peek(payment)
        if item is None or not committed(event_id, item):
            self.report("event_not_committed", payment, f"{event_id} published for no committed transition")

    def check_view(self, reference: str, status: int, view: Any, stored: Any) -> None:
        from pay1st_partner.payments.views import payment_view

        if status != 200 or stored is None:
            # A 5xx (the first read throttled: nothing to answer with) tells nothing wrong; a 4xx for a stored
            # payment does. A throttled write while refreshing answers the stored status (payments.status_route).
            if 400 <= status < 500 and stored is not None:
                self.report("status_route", reference, f"answered {status} for a stored payment")
            return
        expected = _jsonable(payment_view(stored))
        if view != expected:
            fields = sorted(k for k in set(view) | set(expected) if view.get(k) != expected.get(k))
            self.report(
                "status_route",
                reference,
                f"answered {view.get('status')}, store holds {stored.status} ({', '.join(fields)} differ)",
            )

    # ------------------------------------------------------------------ quiescence

    def at_quiescence(
        self, partner: dict[str, Any], open_too_long: Callable[[], set[tuple[str, str]]]
    ) -> None:
        gateway = self.w.gateway
        attempts: dict[str, list[Any]] = {}
        for g in gateway.payments.values():
            attempts.setdefault(g.partner_reference.split("..", 1)[0], []).append(g)
        reported_open = open_too_long()
        for reference in partner:
            item = self.w.peek(reference)
            paid = [g for g in attempts.get(reference, []) if g.paid]
            if item is None:
                if paid:
                    self.report("paid_not_successful", reference, "paid at Pay1st, no payment here")
                continue
            self._paid(reference, item, paid)
            self._events(reference, item)
            self._refunds(reference, item, reported_open)
            current = gateway.payments.get(str(item.get("reference")))
            if partner[reference].fulfilment_accepted:
                delivered = current is not None and current.fulfilments > 0
                dead = any(reference in m["body"] for m in self.w.queue.dead)
                if not delivered and not dead:
                    self.report(
                        "fulfilment_lost", reference, "accepted, never reached Pay1st, not dead-lettered"
                    )
        for g in gateway.payments.values():
            queries = g.queries
            for i in range(len(queries) - QUERIES_PER_WINDOW):
                if queries[i + QUERIES_PER_WINDOW] - queries[i] < WINDOW:
                    self.report(
                        "gateway_calls_unbounded",
                        g.partner_reference.split("..", 1)[0],
                        f"{QUERIES_PER_WINDOW + 1} status queries of {g.reference} within {WINDOW:.0f}s",
                    )
                    break

    def _paid(self, reference: str, item: dict[str, Any], paid: list[Any]) -> None:
        """Paid at Pay1st ⇒ SUCCESSFUL here; two attempts paid ⇒ flagged; a reversal there ⇒ recorded here."""
        status = item["status"]
        superseded_paid = {a.get("reference") for a in item.get("attempts", []) if a.get("paidAt")}
        if paid and status != "SUCCESSFUL" and not all(g.reference in superseded_paid for g in paid):
            current_attempt = item.get("attemptReference", reference)
            superseded = any(g.partner_reference != current_attempt for g in paid)
            kind = "paid_not_successful:superseded" if superseded else "paid_not_successful"
            self.report(
                kind, reference, f"paid at Pay1st ({', '.join(g.reference for g in paid)}), {status} here"
            )
        if len(paid) > 1 and not item.get("doublePaid"):
            self.report("paid_twice_unflagged", reference, f"{len(paid)} attempts paid, not flagged")
        current = self.w.gateway.payments.get(str(item.get("reference")))
        if current is None or status != "SUCCESSFUL":
            return
        for kind in ("REFUND", "CHARGEBACK"):
            if any(s == kind for _, s in current.statuses) and kind not in (item.get("reversals") or {}):
                self.report(f"reversal_not_recorded:{kind}", reference, f"{kind} at Pay1st, not recorded")

    def _events(self, reference: str, item: dict[str, Any]) -> None:
        for event_id in expected_events(reference, item):
            if event_id not in self.w.published:
                self.report("event_not_published", reference, f"{event_id} never published")
        if item.get("outbox"):
            self.report("outbox_not_empty", reference, f"{sorted(item['outbox'])} still pending")

    def _refunds(self, reference: str, item: dict[str, Any], reported_open: set[tuple[str, str]]) -> None:
        for refund_reference, refund in (item.get("refunds") or {}).items():
            if refund["status"] not in REFUND_FINAL and (reference, refund_reference) not in reported_open:
                self.report(
                    "refund_open_unreported",
                    reference,
                    f"{refund_reference} {refund['status']}, not reported",
                )
            at_gateway = self.w.gateway.refunds.get(refund_reference)
            if refund["status"] == "SUCCESSFUL" and (at_gateway is None or at_gateway.status != "SUCCESSFUL"):
                self.report(
                    "refund_successful_unconfirmed", reference, f"{refund_reference} SUCCESSFUL here only"
                )


def committed(event_id: str, item: dict[str, Any]) -> bool:
    parts = event_id.split(":")
    history = {h["status"] for h in item.get("statusHistory", [])}
    if len(parts) == 2:
        return parts[1] in history or parts[1] in (item.get("reversals") or {})
    if parts[1] == "PAID_TWICE":
        return bool(item.get("doublePaid"))
    if parts[1] == "step" and len(parts) == 3:
        # A step changes no status: its event (Payment In Progress) is written with stepsTold.<step>, and the
        # outbox holds it until published; a step recorded as the payment's current one counts too.
        told = parts[2] in (item.get("stepsTold") or {}) or event_id in (item.get("outbox") or {})
        return told or (item.get("step") or {}).get("status") == parts[2]
    if parts[1] == "refund" and len(parts) >= 4:
        refund = (item.get("refunds") or {}).get(parts[2])
        if refund is None:
            return False
        reached = {h["status"] for h in refund.get("history", [])}
        return {
            "requested": bool(reached - {"CREATING", "CREATE_UNKNOWN"}),
            "succeeded": "SUCCESSFUL" in reached,
            "failed": bool(reached & {"FAILED", "REJECTED"}),
        }.get(parts[3], False)
    return False


def expected_events(reference: str, item: dict[str, Any]) -> list[str]:
    found = [f"{reference}:{h['status']}" for h in item.get("statusHistory", []) if h["status"] in EVENTFUL]
    found += [f"{reference}:{kind}" for kind in (item.get("reversals") or {})]
    found += [f"{reference}:step:{step}" for step in (item.get("stepsTold") or {})]
    for refund_reference, refund in (item.get("refunds") or {}).items():
        reached = {h["status"] for h in refund.get("history", [])}
        if reached - {"CREATING", "CREATE_UNKNOWN"}:
            found.append(f"{reference}:refund:{refund_reference}:requested")
        if "SUCCESSFUL" in reached:
            found.append(f"{reference}:refund:{refund_reference}:succeeded")
        if reached & {"FAILED", "REJECTED"}:
            found.append(f"{reference}:refund:{refund_reference}:failed")
    return found


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
