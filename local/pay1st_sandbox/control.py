"""The control and inspection API under /_sandbox/ (JSON in, JSON out; not part of the gateway)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from . import catalogue, instruments, jsonutil
from .errors import ControlError
from .faults import FaultError
from .payments import Payment
from .state import SandboxState

PREFIX = "/_sandbox"
MAX_FLUSH_SECONDS = 300.0

Handler = Callable[..., Response]


def control_json(document: object, status: int = 200) -> Response:
    return Response(jsonutil.dumps(document), status=status, content_type="application/json")


class ControlApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(werkzeug rule, method, handler)."""
        return [
            (f"{PREFIX}/health", "GET", self.health),
            (f"{PREFIX}/config", "GET", self.config),
            (f"{PREFIX}/counters", "GET", self.counters),
            (f"{PREFIX}/counters/reset", "POST", self.reset_counters),
            (f"{PREFIX}/payments", "GET", self.payments),
            (f"{PREFIX}/payments/<reference>", "GET", self.payment),
            (f"{PREFIX}/payments/<reference>/settle", "POST", self.settle),
            (f"{PREFIX}/payments/<reference>/chargeback", "POST", self.chargeback),
            (f"{PREFIX}/payments/<reference>/steps", "POST", self.step),
            (f"{PREFIX}/instruments", "GET", self.instruments),
            (f"{PREFIX}/refunds", "GET", self.refunds),
            (f"{PREFIX}/refunds/received", "GET", self.refunds_received),
            (f"{PREFIX}/refunds/<reference>/settle", "POST", self.settle_refund),
            (f"{PREFIX}/webhooks", "GET", self.webhooks),
            (f"{PREFIX}/webhooks/flush", "POST", self.flush_webhooks),
            (f"{PREFIX}/webhooks/signing", "GET", self.webhook_signing),
            (f"{PREFIX}/webhooks/signing", "POST", self.set_webhook_signing),
            (f"{PREFIX}/fulfilments", "GET", self.fulfilments),
            (f"{PREFIX}/faults", "GET", self.faults),
            (f"{PREFIX}/faults", "POST", self.set_faults),
            (f"{PREFIX}/faults", "DELETE", self.clear_faults),
            (f"{PREFIX}/tokens/expire", "POST", self.expire_tokens),
            (f"{PREFIX}/reset", "POST", self.reset),
        ]

    def _document(self, payment: Payment) -> dict[str, Any]:
        return payment.control_document(self.state.config.partner_id, self.state.transaction_ids)

    def health(self, request: Request) -> Response:
        return control_json({"ok": True})

    def config(self, request: Request) -> Response:
        """The configuration without the credentials."""
        settings = asdict(self.state.config)
        for secret in ("api_key", "api_secret", "signing_key", "webhook_username", "webhook_password"):
            settings.pop(secret)
        return control_json(settings)

    def counters(self, request: Request) -> Response:
        return control_json(self.state.counters.snapshot())

    def reset_counters(self, request: Request) -> Response:
        self.state.counters.reset()
        return control_json(self.state.counters.snapshot())

    def payments(self, request: Request) -> Response:
        return control_json([self._document(payment) for payment in self.state.payments()])

    def payment(self, request: Request, reference: str) -> Response:
        payment = self.state.find_payment(reference)
        if payment is None:
            raise ControlError(404, "UNKNOWN_PAYMENT", "no payment with this reference or partnerReference")
        return control_json(self._document(payment))

    def settle(self, request: Request, reference: str) -> Response:
        body = _body(request)
        outcome = body.get("outcome")
        if not isinstance(outcome, str):
            raise ControlError(400, "INVALID_REQUEST", "outcome is required")
        payment = self.state.find_payment(reference)
        if payment is None:
            raise ControlError(404, "UNKNOWN_PAYMENT", "no payment with this reference or partnerReference")
        updated = self.state.apply_outcome(payment.reference, outcome, source="control")
        return control_json(self._document(updated))

    def chargeback(self, request: Request, reference: str) -> Response:
        """§16: the customer disputed a paid payment; the payment webhook reports CHARGEBACK."""
        payment = self.state.find_payment(reference)
        if payment is None:
            raise ControlError(404, "UNKNOWN_PAYMENT", "no payment with this reference or partnerReference")
        updated = self.state.apply_outcome(
            payment.reference, "chargeback", source="chargeback", reversal=True
        )
        return control_json(self._document(updated))

    def step(self, request: Request, reference: str) -> Response:
        """One step of the payment's method flow (§14) without a browser: ``{"channelId"}`` chooses the
        method, ``{"value"}`` answers the step it is at (card number, OTP, PIN, phone, ...)."""
        body = _body(request)
        channel_id, value = body.get("channelId"), body.get("value")
        if not isinstance(channel_id, int | None) or isinstance(channel_id, bool):
            raise ControlError(400, "INVALID_REQUEST", "channelId must be a channel entry id")
        if not isinstance(value, str | None):
            raise ControlError(400, "INVALID_REQUEST", "value must be a string")
        payment = self.state.find_payment(reference)
        if payment is None:
            raise ControlError(404, "UNKNOWN_PAYMENT", "no payment with this reference or partnerReference")
        channel = None
        if channel_id is not None:
            channel = catalogue.find_entry(payment.country_code, channel_id)
            if channel is None or channel.status != catalogue.ACTIVE:
                raise ControlError(400, "UNKNOWN_CHANNEL", "not an active method of the payment's country")
        updated = self.state.take_step(payment.reference, channel, value, source="control")
        return control_json(self._document(updated))

    def instruments(self, request: Request) -> Response:
        """The test instruments (§14) of a country's active methods (``?countryCode=``), or of all."""
        country = request.args.get("countryCode")
        return control_json(
            [
                {
                    **instrument.to_json(),
                    "countryCode": entry.country,
                    "channelName": entry.name,
                    "family": entry.family,
                }
                for entry in catalogue.CHANNELS
                if entry.status == catalogue.ACTIVE and country in (None, entry.country)
                for instrument in instruments.of_channel(entry.entry_id)
            ]
        )

    def refunds(self, request: Request) -> Response:
        return control_json(self.state.refunds.refunds())

    def refunds_received(self, request: Request) -> Response:
        """Every refund request received, with its signature check result and the status answered."""
        return control_json(self.state.refunds.received())

    def settle_refund(self, request: Request, reference: str) -> Response:
        """Settle a refund now: to ``status`` if given, else as its outcome says (the PSP_MANUAL slow path)."""
        status = _body(request).get("status")
        if status is not None and not isinstance(status, str):
            raise ControlError(400, "INVALID_REQUEST", "status must be a string")
        refund = self.state.refunds.settle(reference, status, source="control")
        return control_json(refund.document())

    def webhooks(self, request: Request) -> Response:
        return control_json(self.state.webhooks.deliveries())

    def flush_webhooks(self, request: Request) -> Response:
        timeout = _body(request).get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float | Decimal):
            raise ControlError(400, "INVALID_REQUEST", "timeout must be a number of seconds")
        done = self.state.webhooks.flush(min(float(timeout), MAX_FLUSH_SECONDS))
        pending = [
            d
            for d in self.state.webhooks.deliveries()
            if d["state"] not in ("delivered", "failed", "dropped")
        ]
        return control_json({"done": done, "pending": len(pending)})

    def webhook_signing(self, request: Request) -> Response:
        return control_json(self.state.webhooks.signing())

    def set_webhook_signing(self, request: Request) -> Response:
        """``{"scheme": "signing-key"|"basic-auth", "hexCase": "lower"|"upper"}`` (either may be left out)."""
        body = _body(request)
        scheme, hex_case = body.get("scheme"), body.get("hexCase")
        if not isinstance(scheme, str | None) or not isinstance(hex_case, str | None):
            raise ControlError(400, "INVALID_REQUEST", "scheme and hexCase are strings")
        try:
            return control_json(self.state.webhooks.set_signing(scheme, hex_case))
        except ValueError as exc:
            raise ControlError(400, "INVALID_REQUEST", str(exc)) from None

    def fulfilments(self, request: Request) -> Response:
        return control_json(self.state.fulfilments())

    def faults(self, request: Request) -> Response:
        return control_json(self.state.faults.current.to_json())

    def set_faults(self, request: Request) -> Response:
        try:
            faults = self.state.faults.set(_body(request))
        except FaultError as exc:
            raise ControlError(400, "INVALID_FAULT", str(exc)) from None
        return control_json(faults.to_json())

    def clear_faults(self, request: Request) -> Response:
        self.state.faults.clear()
        return control_json(self.state.faults.current.to_json())

    def expire_tokens(self, request: Request) -> Response:
        refresh_tokens = _body(request).get("refreshTokens", True)
        if not isinstance(refresh_tokens, bool):
            raise ControlError(400, "INVALID_REQUEST", "refreshTokens must be true or false")
        expired = self.state.tokens.expire_tokens(refresh_tokens=refresh_tokens)
        return control_json({"expired": expired, "refreshTokensExpired": refresh_tokens})

    def reset(self, request: Request) -> Response:
        self.state.reset()
        return control_json({"ok": True})


def _body(request: Request) -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    if request.mimetype != "application/json":
        raise ControlError(415, "UNSUPPORTED_MEDIA_TYPE", "control requests carry application/json")
    try:
        document = jsonutil.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        raise ControlError(400, "INVALID_JSON", "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise ControlError(400, "INVALID_JSON", "the body must be a JSON object")
    return document
