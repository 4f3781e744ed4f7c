"""``POST /api/pay1st/transactions/refunds/create`` (§15), with the same checks, in the same order, as the
other gateway routes (:mod:`pay1st_sandbox.gateway`): Content-Type (405), token (401), signature and
timestamp (400), body (400), business rules (400). Every request is logged for ``GET /_sandbox/refunds``
with the result of its signature check and how it was answered.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from .errors import GatewayError
from .gateway import (
    MAX_REFERENCE_LENGTH,
    GatewayApi,
    _decimal,
    _invalid,
    _json_object,
    _require_content_type,
    json_response,
)
from .gateway import _text as _required_text
from .gateway import _url as _optional_url
from .iso_codes import fits_minor_unit
from .signing import format_timestamp

REFUND_MEDIA_TYPE = "application/vnd.carry1st.payments.refund+json"
REFUND_PATH = "/api/pay1st/transactions/refunds/create"


class RefundApi:
    def __init__(self, gateway: GatewayApi) -> None:
        self.gateway = gateway
        self.state = gateway.state

    def routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        return [(REFUND_PATH, "POST", self.create_refund)]

    def create_refund(self, request: Request) -> Response:
        entry = self.state.refunds.note_received(
            {"receivedAt": format_timestamp(self.state.now()), "signatureValid": None, "status": None}
        )
        try:
            response = self._create(request, entry)
        except GatewayError as exc:
            entry.update(status=exc.status, errorCode=exc.code)
            raise
        entry["status"] = response.status_code
        return response

    def _create(self, request: Request, entry: dict[str, Any]) -> Response:
        _require_content_type(request, REFUND_MEDIA_TYPE)
        token = self.gateway._access_token(request)
        raw = self.gateway._raw_body(request)
        entry["body"] = raw.decode("utf-8", "replace")
        try:
            self.gateway._verify_signature(request, token, raw)
        except GatewayError:
            entry["signatureValid"] = False
            raise
        entry["signatureValid"] = True
        body = _json_object(raw)
        amount, reason = _parse(body)
        payment = self.state.refund_target(body["transactionReference"])
        if payment is not None and amount is not None and not fits_minor_unit(amount, payment.currency_code):
            raise _invalid("amount", f"at most the minor unit of {payment.currency_code}")
        refund = self.state.refunds.create(body, amount, reason)
        # Fault "timeout after processing": the refund exists, the answer comes too late.
        self.state.pause(self.state.faults.current.refund_stall_seconds)
        entry["refundReference"] = refund.refund_reference
        return json_response(201, refund.document(), REFUND_MEDIA_TYPE)


def _parse(body: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    """Validate a §15 body; ``partnerRefundReference`` is required here (the partner's idempotency key)."""
    _required_text(body, "transactionReference", max_length=MAX_REFERENCE_LENGTH)
    _required_text(body, "partnerRefundReference", max_length=MAX_REFERENCE_LENGTH)
    amount = None if body.get("amount") is None else _decimal(body, "amount", positive=True)
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _invalid("reason", "must be a string")
    _optional_url(body, "refundWebhookUrl")
    return amount, reason
