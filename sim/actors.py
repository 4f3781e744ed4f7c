"""Who acts in the world, each choice from the seed: the partner's backend (creates, valid and hostile, with
retries; fulfilments; refunds, also concurrent; status reads), customers (pay, fail, cancel, abandon, pay
offline later), Pay1st (its webhooks with its own retries, delayed, duplicated, reordered, dropped; refund
progress; chargebacks; investigations; session expiry), strangers (forged and replayed webhooks), operators
(reconcile, republish, redrive) and the schedule (the status poller every minute, rotations, clock skew).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sim.gateway import GPayment, GRefund, sign, sign_basic
from sim.mix import Mix
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


class Actors:
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

    # ------------------------------------------------------------------ customers and Pay1st

    def _gateway_created(self, payment: GPayment) -> None:
        # Pay1st expires a session nobody finished (ABANDONED); an offline payment waits longer.
        self.w.sched.at(1800.0, lambda: self._expire(payment))
        if self.mix.superseded_paid:
            self.w.sched.at(self.w.rng.uniform(60, 900), lambda: self._out_of_band(payment))

    def _out_of_band(self, payment: GPayment) -> None:
        """An attempt the payment no longer follows (its create answer was lost) paid by someone who got its
        link anyway: the one signal is Pay1st's webhook."""
        item = self.w.raw_store.item(payment.partner_reference.split("..", 1)[0])
        if (
            item is None
            or item.get("reference") == payment.reference
            or self.w.rng.random() >= self.mix.superseded_paid
        ):
            return
        self.w.trace(
            payment.partner_reference, f"someone pays superseded attempt {payment.reference} out of band"
        )
        self.w.gateway.set_status(payment, "SUCCESSFUL")

    def _expire(self, payment: GPayment) -> None:
        if payment.status == "PENDING":
            self.w.sched.at(3 * 3600.0, lambda: self.w.gateway.set_status(payment, "ABANDONED"))
            return
        if payment.status in ("NEW",):
            self.w.gateway.set_status(payment, "ABANDONED")

    def _customer(self, partner_reference: str, reference: str) -> None:
        w = self.w
        payment = w.gateway.payments.get(reference)
        if payment is None:
            return
        journey = w.choose(self.mix.journeys)
        at = w.rng.uniform(5, 600)
        w.trace(partner_reference, f"customer will {journey} in {at:.0f}s")
        steps: list[tuple[float, str]]
        if journey == "pay":
            steps = [(at, "SUCCESSFUL")]
        elif journey == "card_steps":
            steps = [(at, "SEND_OTP"), (at + 20, "SUCCESSFUL")]
        elif journey == "fail":
            steps = [(at, "FAILED")]
        elif journey == "cancel":
            steps = [(at, "CANCELLED")]
        elif journey == "offline":
            steps = [(at, "PENDING"), (at + w.rng.uniform(600, 2 * 3600), "SUCCESSFUL")]
        elif journey == "investigation":
            steps = [
                (at, "PENDING_INVESTIGATION"),
                (at + w.rng.uniform(600, 7200), w.choose({"SUCCESSFUL": 3, "FAILED": 1})),
            ]
        else:
            steps = []  # abandon: Pay1st expires it
        for when, status in steps:
            w.sched.at(when, lambda status=status: self._move(payment, status))
        if steps and w.rng.random() < self.mix.callbacks:
            w.sched.at(steps[-1][0] + w.rng.uniform(0, 2), lambda: self._callback(partner_reference, payment))

    def _move(self, payment: GPayment, status: str) -> None:
        if status in ("SEND_OTP",):
            self._webhook(payment, status)  # an in-progress step: reported, never a transition
            return
        self.w.gateway.set_status(payment, status)

    def _gateway_changed(self, payment: GPayment, previous: str) -> None:
        w = self.w
        self._webhook(payment, payment.status)
        if payment.status == "SUCCESSFUL" and w.rng.random() < self.mix.chargebacks:
            w.sched.at(w.rng.uniform(600, 4 * 3600), lambda: w.gateway.set_status(payment, "CHARGEBACK"))

    def _callback(self, partner_reference: str, payment: GPayment) -> None:
        w = self.w
        url = str(payment.body.get("callbackSuccessUrl") or "")
        if "?" not in url:
            return
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        outcome = parts.path.rsplit("/", 1)[-1]
        call = w.http("callback_redirect", "GET", parts.path, query=query, path_params={"outcome": outcome})

        def done(answer: Any) -> None:
            status, _, headers = answer
            location = headers.get("Location", "")
            w.trace(partner_reference, f"callback -> {status}")
            if status != 302 or not location.startswith("https://shop.example.com/payment-result"):
                w.violation("callback_redirect", partner_reference, f"{status} to {location[:60]}")

        w.run("callback", partner_reference, call, done=done)

    # ------------------------------------------------------------------ Pay1st's webhooks

    def _webhook(self, payment: GPayment, status: str) -> None:
        body = json.dumps(
            {
                "partnerId": 42,
                "partnerCode": "STUDIO",
                "partnerReference": payment.partner_reference,
                "reference": payment.reference,
                "orderAmount": "@@",
                "currencyCode": payment.currency,
                "countryCode": payment.country,
                "status": status,
            }
        ).replace('"@@"', str(payment.amount))
        self._send_webhook(
            "/webhooks/pay1st",
            payment.partner_reference,
            body.encode(),
            reversal=status in ("REFUND", "CHARGEBACK"),
        )

    def _refund_changed(self, refund: GRefund) -> None:
        payment = refund.payment
        body = json.dumps(
            {
                "refundReference": refund.refund_reference,
                "transactionReference": payment.reference,
                "partnerReference": payment.partner_reference,
                "partnerRefundReference": refund.partner_refund_reference,
                "amount": "@@",
                "currencyCode": payment.currency,
                "status": refund.status,
                "handlingType": refund.handling_type,
            }
        ).replace('"@@"', str(refund.amount))
        self._send_webhook("/webhooks/pay1st/refunds", payment.partner_reference, body.encode())

    def _send_webhook(self, path: str, reference: str, body: bytes, *, reversal: bool = False) -> None:
        w = self.w
        mix = self.mix
        chaos = w.choose(mix.webhook_chaos) if w.sched.faults_on else "deliver"
        if chaos == "lose" and reversal and not mix.lose_reversals:
            chaos = "drop"
        if chaos == "lose":
            w.trace(reference, f"pay1st loses webhook {path} for good")
            return
        if chaos == "drop":  # this delivery is lost; Pay1st, seeing no 2xx, sends it again later
            w.trace(reference, f"pay1st's webhook {path} lost on the way")
            self._deliver(path, reference, body, attempt=2, delay=30.0 + w.rng.uniform(0, 5))
            return
        delay = w.rng.uniform(0.05, 3.0) + (w.rng.uniform(10, 900) if chaos == "delay" else 0.0)
        copies = 2 if chaos == "duplicate" else 1
        for copy in range(copies):
            self._deliver(
                path,
                reference,
                body,
                attempt=1,
                delay=delay + copy * w.rng.choice((0.01, 1.0, 5.0)) * w.rng.random(),
            )

    def _deliver(self, path: str, reference: str, body: bytes, *, attempt: int, delay: float) -> None:
        w = self.w

        def call() -> Any:
            headers = self._signed_headers(body)
            self.genuine_bodies.append((path, body, headers))
            if len(self.genuine_bodies) > 400:
                del self.genuine_bodies[:200]
            return w.http("webhook_intake", "POST", path, body=body.decode(), headers=headers)()

        def again(why: str) -> None:
            if attempt >= self.mix.webhook_attempts:
                self.webhooks_given_up += 1
                w.trace(reference, f"pay1st gives up webhook {path} ({why})")
                return
            self._deliver(path, reference, body, attempt=attempt + 1, delay=30.0 * 2 ** (attempt - 1))

        def done(answer: Any) -> None:
            status, answer_body, _ = answer
            w.trace(
                reference, f"webhook {path.rsplit('/', 1)[-1]} #{attempt} -> {status} {_outcome(answer_body)}"
            )
            if not 200 <= status < 300:
                again(str(status))

        w.run("webhook", reference, call, delay=delay, done=done, failed=again)

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        w = self.w
        scheme = w.choose({"signing-key": 1, "basic-auth": 1})
        if scheme == "basic-auth":
            return {"x-signature": sign_basic(w.secret.basic_user, w.secret.basic_password, body)}
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(w.clock.time() + w.skew, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {"x-signature": sign(w.pay1st_signing_key, stamp, body), "x-timestamp": stamp}

    def forge(self) -> None:
        """A stranger posts a webhook: a made-up SUCCESSFUL under a wrong key, or a captured one again."""
        w = self.w
        if not self.partner:
            return
        kind = w.choose({"wrong_key": 2, "replay": 2, "unsigned": 1})
        if kind == "replay" and self.genuine_bodies:
            path, body, headers = self.genuine_bodies[w.rng.randrange(len(self.genuine_bodies))]
            reference = json.loads(body).get("partnerReference")
        else:
            references = list(self.partner)
            reference = references[w.rng.randrange(len(references))]
            path = "/webhooks/pay1st"
            gateway = w.gateway.by_partner_reference.get(reference)
            body = json.dumps(
                {
                    "partnerId": 42,
                    "partnerCode": "STUDIO",
                    "partnerReference": reference,
                    "reference": gateway.reference if gateway else "C-1-P",
                    "orderAmount": 10,
                    "currencyCode": "ZAR",
                    "countryCode": "ZA",
                    "status": "SUCCESSFUL",
                }
            ).encode()
            headers = (
                {}
                if kind == "unsigned"
                else {
                    "x-signature": sign("stolen-key", "2026-12-06T09:00:00.000Z", body),
                    "x-timestamp": "2026-12-06T09:00:00.000Z",
                }
            )
        call = w.http("webhook_intake", "POST", path, body=body.decode(), headers=headers)

        def done(answer: Any) -> None:
            status, answer_body, _ = answer
            w.trace(reference, f"forged webhook ({kind}) -> {status} {_outcome(answer_body)}")
            if kind != "replay" and status != 401:
                w.violation("forged_webhook_accepted", reference, f"{kind} answered {status}")

        w.run("forged-webhook", reference, call, delay=w.rng.uniform(0, 60), done=done, crashable=False)
        self.forged.add(w.sched.invocations)

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

    def refund_progress(self, refund: GRefund) -> None:
        """Pay1st works a refund it accepted: PSP_API in minutes, PSP_MANUAL in hours; NO_REFUND is REJECTED."""
        w = self.w
        if refund.handling_type == "NO_REFUND":
            self._refund_changed(refund)
            return
        start = w.rng.uniform(10, 120) if refund.handling_type == "PSP_API" else w.rng.uniform(3600, 3 * 3600)
        w.sched.at(start, lambda: w.gateway.set_refund_status(refund, "PROCESSING"))
        end = w.choose({"SUCCESSFUL": 9, "FAILED": 1})
        w.sched.at(start + w.rng.uniform(30, 600), lambda: w.gateway.set_refund_status(refund, end))

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
