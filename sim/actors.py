"""Who acts in the world, each choice from the seed: the partner's backend (creates, valid and hostile, with
retries; fulfilments; refunds, also concurrent; status reads), customers (pay, fail, cancel, abandon, pay
offline later), Pay1st (its webhooks with its own retries, delayed, duplicated, reordered, dropped; refund
progress; chargebacks; investigations; session expiry), strangers (forged and replayed webhooks), operators
(reconcile, republish, redrive) and the schedule (the status poller every minute, rotations, clock skew).
Pay1st's side (customers, webhooks, refund progress, strangers) is :mod:`sim.pay1st_side`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sim.mix import Mix
from sim.pay1st_side import Pay1stSide
from sim.world import World

AMOUNTS = ("250.50", "10", "99.99", "1200", "5.25")


@dataclass
class PartnerPayment:
    """What the partner knows and did (the reference the sim checks the bundle's answers against)."""

    reference: str
    amount: str
    body: dict[str, Any]
    created: bool = False
    create_tries: int = 0
    fulfilment_requested: bool = False
    fulfilment_accepted: bool = False
    refunds: list[str] = field(default_factory=list)
    succeeded_seen: bool = False
    hostile: bool = False


class Actors(Pay1stSide):
    def __init__(self, world: World, mix: Mix) -> None:
        self.w = world
        self.mix = mix
        self.partner: dict[str, PartnerPayment] = {}
        self.forged: set[int] = set()  # invocation ids of forged deliveries
        self.genuine_bodies: list[tuple[str, bytes, dict[str, str]]] = []
        self.webhooks_given_up = 0
        world.gateway.on_created = self._gateway_created
        world.gateway.on_change = self._gateway_changed
        world.gateway.on_refund_change = self._refund_changed
        world.gateway.refund_handling = lambda payment: world.choose(mix.refund_handling)
        world.event_listeners.append(self._on_event)
        world.queue.on_message = self._on_message

    # ------------------------------------------------------------------ partner: creates

    def arrive(self, index: int) -> None:
        w = self.w
        reference = f"p{w.seed % 100000}-{index:07d}"
        amount = AMOUNTS[w.rng.randrange(len(AMOUNTS))]
        body = {
            "partnerReference": reference,
            "amount": amount,
            "currencyCode": "ZAR",
            "countryCode": "ZA",
            "products": [
                {"title": "Gems", "sku": "GEM-1", "price": amount, "quantity": 1, "currencyCode": "ZAR"}
            ],
            "metadata": [{"key": "player", "value": f"u{index}"}],
        }
        payment = PartnerPayment(reference, amount, body)
        self.partner[reference] = payment
        w.trace(reference, f"partner creates {amount} ZAR")
        payment.hostile = w.rng.random() < self.mix.hostile_create
        self._create(payment)

    def _create(self, payment: PartnerPayment, delay: float = 0.0) -> None:
        w = self.w
        payment.create_tries += 1
        call = w.http("create_payment", "POST", "/payments", body=json.dumps(payment.body))

        def done(answer: Any) -> None:
            status, body, _ = answer
            w.trace(payment.reference, f"create -> {status} {_code(body)}")
            self._check_json(payment.reference, status, body)
            if status == 201:
                if not payment.created and payment.hostile:
                    self._hostile(
                        payment
                    )  # once it exists: the same reference for another body is a conflict
                payment.created = True
                if body.get("checkoutUrl") and body.get("reference") is not None:
                    self._customer(payment.reference, str(body["reference"]))
                if w.rng.random() < self.mix.status_reads:
                    self._status_read(payment.reference, w.rng.uniform(5, 3600))
                if w.rng.random() < self.mix.status_bursts:
                    # A dashboard refreshing while the customer pays: a burst of reads of an open payment.
                    start = w.rng.uniform(30, 900)
                    for _ in range(10):
                        self._status_read(payment.reference, start + w.rng.uniform(0, 5))
            elif _retryable(status, body):
                self._retry_create(payment)

        w.run(
            "create",
            payment.reference,
            call,
            delay=delay,
            done=done,
            failed=lambda why: self._retry_create(payment),
        )

    def _retry_create(self, payment: PartnerPayment) -> None:
        if payment.create_tries < self.mix.create_tries:
            self._create(payment, delay=self.w.rng.uniform(1, 30) * payment.create_tries)

    def _hostile(self, payment: PartnerPayment) -> None:
        w = self.w
        kind = w.choose({"conflict": 2, "invalid": 2, "bad_json": 1})
        body: Any
        if kind == "conflict":
            body = json.dumps(
                {
                    **payment.body,
                    "amount": "1.01",
                    "products": [{**payment.body["products"][0], "price": "1.01"}],
                }
            )
        elif kind == "invalid":
            body = json.dumps({**payment.body, "amount": "-5"})
        else:
            body = "{not json"
        call = w.http("create_payment", "POST", "/payments", body=body)

        def done(answer: Any) -> None:
            status, answer_body, _ = answer
            w.trace(payment.reference, f"hostile create ({kind}) -> {status} {_code(answer_body)}")
            self._check_json(payment.reference, status, answer_body)
            if status == 201:
                w.violation("hostile_create_accepted", payment.reference, f"{kind} create answered 201")

        w.run("hostile-create", payment.reference, call, delay=w.rng.uniform(0, 20), done=done)

    def _check_json(self, reference: str, status: int, body: Any) -> None:
        if 400 <= status < 500 and not (isinstance(body, dict) and "code" in body and "message" in body):
            self.w.violation("error_not_json", reference, f"{status} answered {str(body)[:60]!r}")

    # ------------------------------------------------------------------ events: fulfil, refund

    def _on_event(self, detail: dict[str, Any]) -> None:
        reference = str(detail.get("partnerReference"))
        payment = self.partner.get(reference)
        if payment is None or detail.get("detail-type") != "Payment Succeeded" or payment.succeeded_seen:
            return
        payment.succeeded_seen = True  # consumers dedupe on eventId
        w = self.w
        if w.rng.random() < self.mix.fulfil:
            payment.fulfilment_requested = True
            late = w.rng.random() < 0.1  # some partners fulfil in a nightly batch
            self._fulfil(payment, w.rng.uniform(3600, 4 * 3600) if late else w.rng.uniform(1, 120), tries=1)
        if w.rng.random() < self.mix.refunds:
            full = w.rng.random() < self.mix.full_refunds
            concurrent = w.rng.random() < 0.3
            # A third each: two concurrent partial refunds never add up to the whole (a whole refund is issue
            # 21's trigger, ``full_refunds``).
            amount = None if full else str((Decimal(payment.amount) / 3).quantize(Decimal("0.01")))
            at = w.rng.uniform(60, 3600)
            self._refund(payment, f"{reference}-r1", amount, at, tries=1)
            if concurrent:
                self._refund(payment, f"{reference}-r2", amount, at + w.rng.uniform(0, 0.2), tries=1)

    def _fulfil(self, payment: PartnerPayment, delay: float, *, tries: int) -> None:
        w = self.w
        body = {
            "products": [
                {
                    "sku": "GEM-1",
                    "quantity": 1,
                    "fulfilmentStatus": "FULFILLED",
                    "fulfilmentTime": "2026-12-06T09:00:00Z",
                }
            ]
        }
        path = f"/payments/{payment.reference}/fulfilment"
        call = w.http(
            "fulfilment", "POST", path, body=body, path_params={"partnerReference": payment.reference}
        )

        def retry(why: str) -> None:
            if tries < 6:
                self._fulfil(payment, w.rng.uniform(5, 120) * tries, tries=tries + 1)

        def done(answer: Any) -> None:
            status, answer_body, _ = answer
            w.trace(payment.reference, f"fulfilment -> {status} {_code(answer_body)}")
            self._check_json(payment.reference, status, answer_body)
            if status == 202:
                payment.fulfilment_accepted = True
            elif status >= 500:
                retry(str(status))

        w.run("fulfilment", payment.reference, call, delay=delay, done=done, failed=retry)

    def _refund(
        self, payment: PartnerPayment, refund_reference: str, amount: str | None, delay: float, *, tries: int
    ) -> None:
        w = self.w
        body: dict[str, Any] = {"refundReference": refund_reference, "reason": "sim"}
        if amount is not None:
            body["amount"] = amount
        if refund_reference not in payment.refunds:
            payment.refunds.append(refund_reference)
        path = f"/payments/{payment.reference}/refunds"
        call = w.http(
            "create_refund", "POST", path, body=body, path_params={"partnerReference": payment.reference}
        )

        def retry(why: str) -> None:
            if tries < 6:
                self._refund(
                    payment, refund_reference, amount, w.rng.uniform(5, 120) * tries, tries=tries + 1
                )

        def done(answer: Any) -> None:
            status, answer_body, _ = answer
            w.trace(
                payment.reference,
                f"refund {refund_reference} ({amount or 'ALL'}) -> {status} {_code(answer_body)}",
            )
            self._check_json(payment.reference, status, answer_body)
            if _retryable(status, answer_body):
                retry(str(status))

        w.run("refund", payment.reference, call, delay=delay, done=done, failed=retry)

    # ------------------------------------------------------------------ SQS: the fulfilment sender

    def _on_message(self, message: dict[str, Any]) -> None:
        self.w.sched.at(self.w.rng.uniform(0.05, 2.0), lambda: self._receive(message))

    def _receive(self, message: dict[str, Any]) -> None:
        w = self.w
        message["receives"] += 1
        if message["first"] is None:
            message["first"] = int(w.clock.time() * 1000)
        event = {
            "Records": [
                {
                    "messageId": message["id"],
                    "receiptHandle": message["id"],
                    "body": message["body"],
                    "attributes": {
                        "ApproximateReceiveCount": str(message["receives"]),
                        "ApproximateFirstReceiveTimestamp": str(message["first"]),
                    },
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                }
            ]
        }
        reference = json.loads(message["body"]).get("partnerReference")
        handler = w.functions["fulfilment_sender"].lambda_handler
        from sim.world import LambdaContext

        def again(why: str) -> None:
            if message["receives"] >= w.queue.max_receives:
                w.queue.dead.append(message)
                w.trace(reference, f"fulfilment message dead-lettered after {message['receives']} receives")
                w.metrics["FulfilmentDeadLettered"] = w.metrics.get("FulfilmentDeadLettered", 0) + 1
                return
            w.sched.at(w.queue.visibility, lambda: self._receive(message))

        def done(answer: Any) -> None:
            failures = answer.get("batchItemFailures") or []
            w.trace(
                reference,
                f"fulfilment sender receive #{message['receives']} -> {'failed' if failures else 'ok'}",
            )
            if failures:
                again("failed")

        w.run(
            "fulfilment-sender",
            reference,
            lambda: handler(event, LambdaContext(w.clock, 30.0)),
            done=done,
            failed=again,
        )

    def redrive(self) -> None:
        """The operator's redrive: dead-lettered messages go back on the queue with fresh receive counts."""
        w = self.w
        for message in w.queue.dead:
            message["receives"] = 0
            w.trace(json.loads(message["body"]).get("partnerReference"), "operator redrives the fulfilment")
            self._on_message(message)
        w.queue.dead = []

    # ------------------------------------------------------------------ reads

    def _status_read(self, reference: str, delay: float) -> None:
        w = self.w
        call = w.http(
            "payment_status", "GET", f"/payments/{reference}", path_params={"partnerReference": reference}
        )
        box: dict[str, Any] = {}

        def body() -> Any:
            from sim.scheduler import running

            before = w.write_count.get(reference, 0)
            answer = call()
            invocation = running()
            others = w.write_count.get(reference, 0) - before - (invocation.own_writes if invocation else 0)
            # What the store holds as the answer leaves; compared only when nobody else wrote meanwhile.
            box["stored"] = w.raw_store.get(reference) if others == 0 else None
            return answer

        def done(answer: Any) -> None:
            status, view, _ = answer
            w.trace(
                reference, f"status read -> {status} {view.get('status') if isinstance(view, dict) else ''}"
            )
            w.check_view(reference, status, view, box.get("stored"))

        w.run("status-read", reference, body, delay=delay, done=done)


def _retryable(status: int, body: Any) -> bool:
    """What a partner's backend retries: a 5xx, and a 409 that says the same request is still in flight."""
    return status >= 500 or (status == 409 and _code(body) in ("create_in_progress", "refund_in_progress"))


def _code(body: Any) -> str:
    return str(body.get("code") or body.get("status") or "") if isinstance(body, dict) else ""


def _outcome(body: Any) -> str:
    return str(body.get("outcome") or body.get("code") or "") if isinstance(body, dict) else ""
