"""Helpers for the sandbox's tests: a raw HTTP gateway client written from the contract (with its own
HMAC, not the sandbox's), a checkout-page parser and a webhook receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3

AUTH = "application/vnd.carry1st.payments.partnerauthentication+json"
CHANNEL = "application/vnd.carry1st.payments.paymentchannel+json"
PAYMENT = "application/vnd.carry1st.payments.payment+json"
API_KEY = "pk_sandbox_local"
API_SECRET = "sk_sandbox_local_secret"
SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"


def hmac_hex(key: str, timestamp: str, body: bytes) -> str:
    """§4 written out again for the tests, so the sandbox's signing is checked, not trusted."""
    return hmac.new(key.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()


def iso_now(offset_seconds: float = 0.0) -> str:
    moment = datetime.fromtimestamp(time.time() + offset_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def to_json(value: Any) -> bytes:
    """Compact JSON; a Decimal goes out as a float (tests of exact digits write raw bytes instead)."""
    return json.dumps(value, separators=(",", ":"), default=float).encode()


@dataclass
class Reply:
    status: int
    headers: urllib3.HTTPHeaderDict
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data, parse_float=Decimal)

    @property
    def text(self) -> str:
        return self.data.decode()


def assert_gateway_error(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    """The §13 error body: errorMessage, errorCode, sessionId."""
    assert reply.status == status, (reply.status, reply.data)
    body = reply.json()
    assert set(body) == {"errorMessage", "errorCode", "sessionId"}, body
    assert body["errorMessage"] and body["sessionId"]
    if code is not None:
        assert body["errorCode"] == code, body
    return dict(body)


def payment_body(**overrides: Any) -> dict[str, Any]:
    """The contract's vector body with a fresh partnerReference."""
    body: dict[str, Any] = {
        "countryCode": "ZA",
        "currencyCode": "ZAR",
        "amount": Decimal("250.50"),
        "partnerReference": f"order-{uuid.uuid4().hex[:12]}",
        "products": [
            {
                "title": "500 Gems",
                "sku": "GEM-500",
                "price": Decimal("250.50"),
                "quantity": 1,
                "currencyCode": "ZAR",
            }
        ],
        "metadata": [{"key": "playerId", "value": "p-42"}],
    }
    body.update(overrides)
    return body


class GatewayClient:
    """Raw HTTP calls to the sandbox as the contract describes them; every header can be bent."""

    def __init__(self, base_url: str, signing_key: str = SIGNING_KEY) -> None:
        self.base_url = base_url
        self.signing_key = signing_key
        self.http = urllib3.PoolManager(retries=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        redirect: bool = False,
    ) -> Reply:
        response = self.http.request(
            method, self.base_url + path, body=body, headers=headers or {}, timeout=timeout, redirect=redirect
        )
        return Reply(response.status, response.headers, response.data)

    # §2
    def token(
        self,
        *,
        key: str = API_KEY,
        secret: str = API_SECRET,
        role: Any = "API_USER",
        content_type: str = AUTH,
        body: bytes | None = None,
        authorization: str | None = None,
    ) -> Reply:
        headers = {"Content-Type": content_type, "Authorization": authorization or basic(key, secret)}
        return self.request(
            "POST", "/api/pay1st/auth/token", body=body or to_json({"role": role}), headers=headers
        )

    def tokens(self) -> tuple[str, str]:
        reply = self.token()
        assert reply.status == 200, reply.data
        document = reply.json()
        return document["accessToken"], document["refreshToken"]

    def access_token(self) -> str:
        return self.tokens()[0]

    # §3
    def refresh(
        self,
        refresh_token: str,
        *,
        role: Any = "API_USER",
        content_type: str = AUTH,
        accept: str | None = AUTH,
        extra_headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        headers = {"Content-Type": content_type, **(extra_headers or {})}
        if accept is not None:
            headers["Accept"] = accept
        payload = body or to_json({"role": role, "refreshToken": refresh_token})
        return self.request("POST", "/api/pay1st/auth/refresh", body=payload, headers=headers)

    def auth_headers(self, token: str | None, content_type: str) -> dict[str, str]:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["AccessToken"] = f"Bearer {token}"
        return headers

    # §6
    def methods(self, token: str | None, country: str | None = "ZA", *, content_type: str = CHANNEL) -> Reply:
        query = "" if country is None else "?" + urlencode({"countryCode": country})
        return self.request(
            "GET", f"/api/pay1st/payments/methods{query}", headers=self.auth_headers(token, content_type)
        )

    def signed(
        self,
        path: str,
        token: str | None,
        body: bytes,
        *,
        timestamp: str | None = None,
        signature: str | None = None,
        content_type: str = PAYMENT,
        timeout: float = 5.0,
    ) -> Reply:
        headers = self.auth_headers(token, content_type)
        stamp = timestamp or iso_now()
        headers["X-TIMESTAMP"] = stamp
        headers["X-SIGNATURE"] = (
            signature if signature is not None else hmac_hex(self.signing_key, stamp, body)
        )
        return self.request("POST", path, body=body, headers=headers, timeout=timeout)

    # §7
    def create(self, token: str | None, body: dict[str, Any] | bytes, **options: Any) -> Reply:
        raw = body if isinstance(body, bytes) else to_json(body)
        return self.signed("/api/pay1st/payments/create", token, raw, **options)

    def new_payment(self, token: str | None = None, **overrides: Any) -> tuple[str, dict[str, Any]]:
        token = token or self.access_token()
        reply = self.create(token, payment_body(**overrides))
        assert reply.status == 201, reply.data
        return token, dict(reply.json())

    # §9
    def status(self, token: str | None, reference: str | None, *, content_type: str = PAYMENT) -> Reply:
        query = "" if reference is None else "?" + urlencode({"reference": reference})
        return self.request(
            "GET", f"/api/pay1st/payments{query}", headers=self.auth_headers(token, content_type)
        )

    # §12
    def fulfil(self, token: str | None, body: dict[str, Any] | bytes, **options: Any) -> Reply:
        raw = body if isinstance(body, bytes) else to_json(body)
        return self.signed("/api/pay1st/payments/fulfilments", token, raw, **options)

    # §8
    def checkout(
        self, reference: str | None, token: str | None, channel_id: int | str | None = None
    ) -> Reply:
        params = {}
        if channel_id is not None:
            params["channelId"] = str(channel_id)
        if reference is not None:
            params["reference"] = reference
        if token is not None:
            params["accessToken"] = token
        return self.request("GET", "/checkout?" + urlencode(params, quote_via=quote))

    def press(self, page: Reply, button: str, channel_id: int | None = None) -> Reply:
        """Submit the checkout form with one of its buttons, as a browser would (no redirect following)."""
        form = parse_checkout(page.text)
        assert button in form.buttons, form.buttons
        fields = {"session": form.session, "action": button}
        chosen = channel_id if channel_id is not None else form.checked
        if chosen is not None:
            fields["channelId"] = str(chosen)
        return self.request(
            "POST",
            form.action,
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


@dataclass
class CheckoutForm:
    action: str = ""
    session: str = ""
    buttons: list[str] = field(default_factory=list)
    channels: dict[str, list[int]] = field(default_factory=dict)  # group legend -> channel ids
    disabled: list[int] = field(default_factory=list)
    checked: int | None = None
    ids: set[str] = field(default_factory=set)
    data: dict[str, dict[str, str]] = field(default_factory=dict)  # element id -> data-* attributes


class _CheckoutParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = CheckoutForm()
        self._legend = False
        self._group = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.form.ids.add(attributes["id"])
            self.form.data[attributes["id"]] = {k: v for k, v in attributes.items() if k.startswith("data-")}
        if tag == "form":
            self.form.action = attributes.get("action", "")
        elif tag == "legend":
            self._legend = True
        elif tag == "button":
            self.form.buttons.append(attributes["id"])
        elif tag == "input" and attributes.get("name") == "session":
            self.form.session = attributes["value"]
        elif tag == "input" and attributes.get("name") == "channelId":
            channel = int(attributes["value"])
            self.form.channels.setdefault(self._group, []).append(channel)
            if "disabled" in attributes:
                self.form.disabled.append(channel)
            if "checked" in attributes:
                self.form.checked = channel

    def handle_endtag(self, tag: str) -> None:
        if tag == "legend":
            self._legend = False

    def handle_data(self, data: str) -> None:
        if self._legend:
            self._group = data.strip()


def parse_checkout(html: str) -> CheckoutForm:
    parser = _CheckoutParser()
    parser.feed(html)
    return parser.form


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


class WebhookReceiver:
    """A partner's webhook endpoint on loopback: records every POST, answers as programmed."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        self.default_status = 200
        self.gate: threading.Event | None = None
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._cond:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.default_status
                    gate = receiver.gate
                    receiver._cond.notify_all()
                if gate is not None:
                    gate.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/pay1st"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} webhooks, got {len(self.received)}")
                self._cond.wait(remaining)
            return list(self.received)

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def callback_path(location: str) -> str:
    return urlsplit(location).path


@dataclass
class StepForm:
    """The step page of a method walked step by step (``/checkout/steps``)."""

    session: str = ""
    channel_id: str = ""
    status: str = ""  # the payment's status the page shows (#step data-status)
    fields: list[str] = field(default_factory=list)  # ids of the inputs named "value"
    error: str = ""  # #step-error data-error-code
    buttons: list[str] = field(default_factory=list)


class _StepParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = StepForm()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if attributes.get("id") == "step":
            self.form.status = attributes.get("data-status", "")
        elif attributes.get("id") == "step-error":
            self.form.error = attributes.get("data-error-code", "")
        elif tag == "input" and attributes.get("name") == "session":
            self.form.session = attributes["value"]
        elif tag == "input" and attributes.get("name") == "channelId":
            self.form.channel_id = attributes["value"]
        elif tag == "input" and attributes.get("name") == "value":
            self.form.fields.append(attributes["id"])
        elif tag == "button":
            self.form.buttons.append(attributes["id"])


def parse_step(html: str) -> StepForm:
    parser = _StepParser()
    parser.feed(html)
    return parser.form


def post_step(gw: GatewayClient, page: Reply, value: str | None = None, action: str = "step") -> Reply:
    """Submit a step page's form as a browser would (no redirect following)."""
    form = parse_step(page.text)
    fields = {"session": form.session, "channelId": form.channel_id, "action": action}
    if value is not None:
        fields["value"] = value
    return gw.request(
        "POST",
        "/checkout/steps",
        body=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
