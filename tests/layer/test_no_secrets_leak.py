"""No token, secret, signing key, signature or checkout link in any log line, exception message or repr."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from layer_fakes import (
    CREATE,
    CREDENTIALS,
    FULFILMENT,
    REFRESH,
    STATUS,
    TOKEN,
    FakeClock,
    FakeGateway,
    Reply,
    make_client,
)
from pay1st.errors import Pay1stError
from pay1st.models import FulfilmentItem, PaymentRequest, Product


def exception_texts(error: BaseException) -> list[str]:
    texts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return texts


def test_secrets_never_reach_logs_exceptions_or_reprs(
    gateway: FakeGateway, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, urllib3's debug lines included
    client = make_client(gateway, clock)
    request = PaymentRequest(
        Decimal("250.50"),
        "ZA",
        "ZAR",
        "order-1001",
        (Product("500 Gems", "GEM-500", Decimal("250.50"), 1, "ZAR"),),
    )
    item = FulfilmentItem("GEM-500", 1, datetime(2026, 1, 15, 10, 35, tzinfo=UTC))
    errors: list[BaseException] = []

    def attempt(call: object) -> None:
        try:
            call()  # type: ignore[operator]
        except Pay1stError as exc:
            errors.append(exc)

    attempt(lambda: client.create_payment(request))
    checkout = client.checkout_url("C-113976984708914-P", 101)
    # A careless gateway echoing our headers (token, signature) and body into its error messages:
    gateway.script(CREATE, Reply(400, echo=True))
    attempt(lambda: client.create_payment(request))
    gateway.script(CREATE, Reply(500, echo=True))
    attempt(lambda: client.create_payment(request))
    gateway.script(FULFILMENT, Reply(403, echo=True))
    attempt(lambda: client.notify_fulfilment("C-1-P", [item]))
    gateway.script(STATUS, Reply(429, echo=True), Reply(503, echo=True), Reply(404, echo=True))
    attempt(lambda: client.get_payment("C-1-P"))
    # Refresh that fails (echoing the refresh token), then 401s that force re-authentication.
    clock.advance(250)
    gateway.script(REFRESH, Reply(400, echo=True))
    attempt(lambda: client.get_payment("C-1-P"))
    gateway.revoke_tokens()
    attempt(lambda: client.get_payment("C-1-P"))
    gateway.script(STATUS, *[Reply(401, echo=True)] * 2)
    attempt(lambda: client.get_payment("C-1-P"))
    gateway.script(TOKEN, Reply(401, echo=True))
    attempt(lambda: client.generate_token())
    gateway.script(CREATE, Reply(drop=True))
    attempt(lambda: client.create_payment(request))

    assert len(errors) == 7
    secrets = {
        CREDENTIALS.api_key,
        CREDENTIALS.api_secret,
        CREDENTIALS.signing_key,
        base64.b64encode(f"{CREDENTIALS.api_key}:{CREDENTIALS.api_secret}".encode()).decode(),
        checkout,
    }
    for recorded in gateway.requests:
        for name in ("AccessToken", "X-SIGNATURE"):
            value = recorded.header(name)
            if value:
                secrets.add(value.removeprefix("Bearer "))
    for number in range(1, gateway.tokens_issued + 1):
        secrets |= {f"access-token-value-{number}", f"refresh-token-value-{number}"}
    assert gateway.tokens_issued >= 3 and len(secrets) > 10

    texts = [caplog.text, repr(client), repr(client.tokens), repr(client.tokens._store), repr(CREDENTIALS)]
    texts += [repr(client.tokens.get())]
    for error in errors:
        texts += exception_texts(error)
    haystack = "\n".join(texts)
    leaked = sorted(secret for secret in secrets if secret in haystack)
    assert leaked == []
    assert "sessionId=s-echo" in haystack  # the support handle is there; only the secrets are not
