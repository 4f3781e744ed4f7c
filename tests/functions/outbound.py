"""Shared by the outbound function tests (create-payment, methods, callbacks, fulfilment)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SKU = "GEM-500"


def create_body(partner_reference: str = "order-1001", amount: str = "250.50", **overrides: Any) -> str:
    """A POST /payments body as raw JSON (amounts written exactly, as a partner would)."""
    document: dict[str, Any] = {
        "partnerReference": partner_reference,
        "amount": "__AMOUNT__",
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "products": [
            {"title": "500 Gems", "sku": SKU, "price": "__AMOUNT__", "quantity": 1, "currencyCode": "ZAR"}
        ],
        "metadata": [{"key": "playerId", "value": "p-42"}],
    }
    document.update(overrides)
    return json.dumps(document).replace('"__AMOUNT__"', amount)


@dataclass
class Result:
    status: int
    body: Any
    headers: dict[str, str]
    raw: dict[str, Any]

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def call(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], context: Any
) -> Result:
    raw = handler(event, context)
    text = raw.get("body") or ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return Result(raw["statusCode"], body, dict(raw.get("headers") or {}), raw)


def create(http_event: Callable[..., dict[str, Any]], lambda_context: Any, body: str | bytes) -> Result:
    from functions.create_payment import app

    return call(app.lambda_handler, http_event("POST", "/payments", body=body), lambda_context)


def successful_payment(
    http_event: Callable[..., dict[str, Any]], lambda_context: Any, sandbox: Any, partner_reference: str
) -> Result:
    """Given a payment created through the handler, paid at the sandbox and recorded SUCCESSFUL."""
    from pay1st_partner import runtime

    created = create(http_event, lambda_context, create_body(partner_reference))
    assert created.status == 201, created.body
    sandbox.control.settle(created.body["reference"], "pay")
    transition = runtime.payments().apply_status(
        partner_reference, "SUCCESSFUL", source="test", reference=created.body["reference"]
    )
    assert transition.applied
    return created
