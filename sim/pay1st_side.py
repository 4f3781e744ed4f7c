"""Pay1st's side of the world, each choice from the seed: customers (pay, fail, cancel, abandon, pay offline
later, card steps, investigations), Pay1st's session expiry, chargebacks and refund progress, its webhooks with
its own retries (delayed, duplicated, reordered, lost on the way or for good), and strangers posting forged or
replayed webhooks. Mixed into :class:`sim.actors.Actors`."""

from __future__ import annotations

import functools
import json
from typing import Any

from sim.gateway import GPayment, GRefund, sign, sign_basic
from sim.mix import Mix
from sim.world import World


class Pay1stSide:
    w: World
    mix: Mix
    partner: dict[str, Any]
    forged: set[int]
    genuine_bodies: list[tuple[str, bytes, dict[str, str]]]
    webhooks_given_up: int

    # ------------------------------------------------------------------ customers and Pay1st

    def _gateway_created(self, payment: GPayment) -> None:
        # Pay1st expires a session nobody finished (ABANDONED); an offline payment waits longer.
        self.w.sched.at(1800.0, lambda: self._expire(payment))
        if self.mix.superseded_paid:
            self.w.sched.at(self.w.rng.uniform(60, 900), lambda: self._out_of_band(payment))

    def _out_of_band(self, payment: GPayment) -> None:
        """An attempt the payment no longer follows (its create answer was lost) paid by someone who got its
        link anyway: the one signal is Pay1st's webhook."""
        item = self.w.peek(payment.partner_reference.split("..", 1)[0])
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
            w.sched.at(when, functools.partial(self._move, payment, status))
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
            only_signal=status in ("REFUND", "CHARGEBACK") or self._superseded(payment),
        )

    def _superseded(self, payment: GPayment) -> bool:
        """An attempt the payment does not follow: its Pay1st reference never reached the bundle, so nothing
        can ask about it; Pay1st's webhook is its one signal (``pay1st_partner.payments.attempts``)."""
        item = self.w.peek(payment.partner_reference.split("..", 1)[0])
        return item is not None and item.get("reference") != payment.reference

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

    def _send_webhook(self, path: str, reference: str, body: bytes, *, only_signal: bool = False) -> None:
        w = self.w
        mix = self.mix
        chaos = w.choose(mix.webhook_chaos) if w.sched.faults_on else "deliver"
        if chaos == "lose" and only_signal and not mix.lose_only_signals:
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


def _outcome(body: Any) -> str:
    return str(body.get("outcome") or body.get("code") or "") if isinstance(body, dict) else ""
