"""`SandboxControl`: a small HTTP client of the control API, usable from any process."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import urllib3

from . import jsonutil

OUTCOMES = (
    "pay",
    "fail",
    "cancel",
    "offline",
    "abandon",
    "settle-offline",
)  # settle-offline: PENDING, PAY_OFFLINE


class SandboxControlError(Exception):
    """The control API refused a call (`status`, `code`, `message` from its JSON body)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class SandboxControl:
    def __init__(
        self, base_url: str, *, timeout: float = 10.0, http: urllib3.PoolManager | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = http or urllib3.PoolManager(retries=False)

    def __repr__(self) -> str:
        return f"SandboxControl({self.base_url!r})"

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        response = self._http.request(
            method,
            f"{self.base_url}/_sandbox{path}",
            body=None if body is None else jsonutil.dumps(body),
            headers={"Content-Type": "application/json"} if body is not None else None,
            timeout=timeout or self._timeout,
        )
        document = jsonutil.loads(response.data) if response.data else None
        if response.status >= 300:
            error = document if isinstance(document, dict) else {}
            raise SandboxControlError(response.status, str(error.get("code")), str(error.get("message")))
        return document

    def health(self) -> bool:
        return bool(self._call("GET", "/health").get("ok"))

    def counters(self) -> dict[str, Any]:
        """Flat: ``tokens_issued`` etc. and ``"POST /api/pay1st/auth/token": n``; also ``requests``, ``errors``."""
        result: dict[str, Any] = self._call("GET", "/counters")
        return result

    def reset_counters(self) -> None:
        self._call("POST", "/counters/reset")

    def payments(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/payments")
        return result

    def payment(self, reference: str) -> dict[str, Any]:
        """By Pay1st reference or by partnerReference; includes ``history`` and the §9 ``statusDocument``."""
        result: dict[str, Any] = self._call("GET", f"/payments/{quote(reference, safe='')}")
        return result

    def settle(self, reference: str, outcome: str) -> dict[str, Any]:
        """Press a checkout button without a browser: outcome is one of `OUTCOMES`."""
        result: dict[str, Any] = self._call(
            "POST", f"/payments/{quote(reference, safe='')}/settle", {"outcome": outcome}
        )
        return result

    def chargeback(self, reference: str) -> dict[str, Any]:
        """§16: raise a chargeback on a paid payment (payment webhook CHARGEBACK, status query shows it)."""
        result: dict[str, Any] = self._call("POST", f"/payments/{quote(reference, safe='')}/chargeback", {})
        return result

    def step(
        self, reference: str, *, channel_id: int | None = None, value: str | None = None
    ) -> dict[str, Any]:
        """One step of the payment's method flow (§14) without a browser: choose the method (``channel_id``),
        or answer the step it is at (``value``: card number, OTP, PIN, phone, ...); returns the payment."""
        body: dict[str, Any] = {}
        if channel_id is not None:
            body["channelId"] = channel_id
        if value is not None:
            body["value"] = value
        result: dict[str, Any] = self._call("POST", f"/payments/{quote(reference, safe='')}/steps", body)
        return result

    def instruments(self, country_code: str | None = None) -> list[dict[str, Any]]:
        """The test instruments (§14): ``channelId``, ``family``, ``key``, ``steps`` (status, answer), ``outcome``."""
        query = "" if country_code is None else f"?countryCode={quote(country_code, safe='')}"
        result: list[dict[str, Any]] = self._call("GET", f"/instruments{query}")
        return result

    def refunds(self) -> list[dict[str, Any]]:
        """The refunds the sandbox holds, each with its ``history`` and ``webhookUrl``."""
        result: list[dict[str, Any]] = self._call("GET", "/refunds")
        return result

    def refunds_received(self) -> list[dict[str, Any]]:
        """Every refund request received: ``signatureValid``, ``status`` answered, ``errorCode``, ``body``."""
        result: list[dict[str, Any]] = self._call("GET", "/refunds/received")
        return result

    def settle_refund(self, reference: str, status: str | None = None) -> dict[str, Any]:
        """Settle a refund (by Pay1st or partner refund reference) now, to ``status`` or as its outcome says."""
        body = {} if status is None else {"status": status}
        result: dict[str, Any] = self._call("POST", f"/refunds/{quote(reference, safe='')}/settle", body)
        return result

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/webhooks")
        return result

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Release held deliveries and wait until none is queued, delayed, retrying or in flight."""
        result = self._call("POST", "/webhooks/flush", {"timeout": timeout}, timeout=timeout + 5.0)
        if not result["done"]:
            raise TimeoutError(f"{result['pending']} webhook deliveries still pending after {timeout} s")

    def webhook_signing(self) -> dict[str, str]:
        """``{"scheme", "hexCase"}``: how webhooks are signed now."""
        result: dict[str, str] = self._call("GET", "/webhooks/signing")
        return result

    def set_webhook_signing(self, scheme: str | None = None, hex_case: str | None = None) -> dict[str, str]:
        """Sign webhooks with ``scheme`` (``signing-key``/``basic-auth``), hex in ``hex_case`` (lower/upper)."""
        body = {key: value for key, value in (("scheme", scheme), ("hexCase", hex_case)) if value is not None}
        result: dict[str, str] = self._call("POST", "/webhooks/signing", body)
        return result

    def fulfilments(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/fulfilments")
        return result

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/faults")
        return result

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Merge these faults into the current ones (see the README for names); returns them all."""
        result: dict[str, Any] = self._call("POST", "/faults", faults)
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def expire_tokens(self, *, refresh_tokens: bool = True) -> None:
        """Revoke every access token; refresh tokens too unless `refresh_tokens` is False."""
        self._call("POST", "/tokens/expire", {"refreshTokens": refresh_tokens})

    def reset(self) -> None:
        """Forget payments, tokens, deliveries, fulfilments, faults and counters."""
        self._call("POST", "/reset")

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/config")
        return result
