"""The shared webhook authenticator: signature modes, rotation, diagnosis, kept rejections, partner identity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pay1st.webhook_credentials import webhook_credentials_from
from pay1st.webhooks import basic_auth_signature
from pay1st_partner.errors import WebhookRejected
from pay1st_partner.webhooks.auth import WebhookAuthenticator, auth_header_names
from pay1st_partner.webhooks.rejections import BUDGET_PREFIX, RejectionLog, budget_key, rejection_key

from tests.partner.helpers import SIGNING_KEY, Clock, signed_headers, webhook_body

USER, PASSWORD = "partner-webhooks", "s3cr3t-Pa55"
ROTATION_ENDS = "2026-01-15T12:00:00Z"
SECRET: dict[str, Any] = {
    "signingKey": SIGNING_KEY,
    "webhookUsername": USER,
    "webhookPassword": PASSWORD,
    "previous": [
        {"signingKey": "sk_old", "acceptUntil": ROTATION_ENDS},
        {"webhookUsername": "old-user", "webhookPassword": "old-pass", "acceptUntil": ROTATION_ENDS},
    ],
}


def basic_headers(body: bytes, user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    return {"x-signature": basic_auth_signature(user, password, body), "content-type": "application/json"}


@pytest.fixture
def make(clock: Clock) -> Callable[..., WebhookAuthenticator]:
    def build(
        mode: str = "any", secret: dict[str, Any] | None = None, **options: Any
    ) -> WebhookAuthenticator:
        credentials = webhook_credentials_from(SECRET if secret is None else secret)
        return WebhookAuthenticator(mode=mode, credentials=lambda: credentials, clock=clock, **options)

    return build


def rejection(authenticator: WebhookAuthenticator, body: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(WebhookRejected) as caught:
        authenticator.authenticate(body, headers)
    assert caught.value.http_status == 401
    return caught.value.code


# ------------------------------------------------------------------------------------------------ modes


def test_mode_any_accepts_either_scheme(make: Callable[..., WebhookAuthenticator], clock: Clock) -> None:
    body = webhook_body("SUCCESSFUL")
    auth = make("any")
    assert auth.authenticate(body, signed_headers(body, at=clock())).scheme == "signing-key"
    assert auth.authenticate(body, basic_headers(body)).scheme == "basic-auth"


def test_each_single_scheme_mode_refuses_the_other(
    make: Callable[..., WebhookAuthenticator], clock: Clock
) -> None:
    body = webhook_body("SUCCESSFUL")
    assert rejection(make("signing-key"), body, basic_headers(body)) == "missing_signature"
    assert rejection(make("basic-auth"), body, signed_headers(body, at=clock())) == "invalid_signature"
    assert make("basic-auth").authenticate(body, basic_headers(body)).verified


def test_required_is_the_old_signing_key_mode(clock: Clock) -> None:
    body = webhook_body("SUCCESSFUL")
    old_style = WebhookAuthenticator(lambda: SIGNING_KEY, signature_required=True, clock=clock)
    assert old_style.mode == "signing-key" and old_style.verify(body, signed_headers(body, at=clock()))
    assert not WebhookAuthenticator(lambda: SIGNING_KEY, signature_required=False).verify(body, {})


def test_mode_off_accepts_unsigned_events_but_verifies_signed_ones(
    make: Callable[..., WebhookAuthenticator],
) -> None:
    body = webhook_body("SUCCESSFUL")
    auth = make("off")
    assert not auth.authenticate(body, {}).verified
    assert auth.authenticate(body, basic_headers(body)).scheme == "basic-auth"
    assert rejection(auth, body, basic_headers(body, password="guess")) == "invalid_signature"


def test_basic_auth_without_credentials_in_the_secret_refuses_everything(
    make: Callable[..., WebhookAuthenticator],
) -> None:
    body = webhook_body("SUCCESSFUL")
    auth = make("basic-auth", secret={"signingKey": SIGNING_KEY})
    assert rejection(auth, body, basic_headers(body)) == "invalid_signature"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_signature"),
        ({"x-timestamp": "2026-01-15T10:30:00.000Z"}, "missing_signature"),
        ({"x-signature": "ab" * 32}, "invalid_signature"),  # could be basic-auth in mode any: it is wrong
        ({"x-signature": "ab" * 32, "x-timestamp": "2026-01-15T10:30:00.000Z"}, "invalid_signature"),
        ({"x-signature": "zz", "x-timestamp": "garbage"}, "invalid_signature"),
    ],
)
def test_forgeries_in_mode_any(
    make: Callable[..., WebhookAuthenticator], headers: dict[str, str], code: str
) -> None:
    assert rejection(make("any"), webhook_body("SUCCESSFUL"), headers) == code


def test_a_stale_but_authentic_signature_is_reported_as_stale(
    make: Callable[..., WebhookAuthenticator], clock: Clock
) -> None:
    body = webhook_body("SUCCESSFUL")
    headers = signed_headers(body, at=clock())
    clock.advance(301)
    assert rejection(make("any"), body, headers) == "stale_timestamp"


# ------------------------------------------------------------------------------------------------ rotation


@pytest.mark.parametrize("scheme", ["signing-key", "basic-auth"])
def test_previous_credentials_are_accepted_until_their_time_then_refused(
    make: Callable[..., WebhookAuthenticator], clock: Clock, scheme: str
) -> None:
    body = webhook_body("SUCCESSFUL")
    auth = make(scheme)

    def old_headers() -> dict[str, str]:
        if scheme == "basic-auth":
            return basic_headers(body, "old-user", "old-pass")
        return signed_headers(body, at=clock(), key="sk_old")

    # Given credentials rotated with the old ones accepted until 12:00; at 11:59:59 the old ones pass
    clock.now = datetime(2026, 1, 15, 11, 59, 59, tzinfo=UTC)
    accepted = auth.authenticate(body, old_headers())
    assert accepted.scheme == scheme and accepted.previous_key
    # and the current ones are not "previous"
    current = signed_headers(body, at=clock()) if scheme == "signing-key" else basic_headers(body)
    assert not auth.authenticate(body, current).previous_key
    # When the window has closed, the old ones are refused
    clock.now = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)
    assert rejection(auth, body, old_headers()) == "invalid_signature"
    assert auth.authenticate(body, current).verified


# ------------------------------------------------------------------------------------- kept rejections


@pytest.fixture
def rejections(aws: Any, clock: Clock) -> RejectionLog:
    return RejectionLog("WebhookEventsTable", client=aws.dynamodb, clock=clock, hourly_budget=5)


def test_a_rejection_is_kept_with_its_diagnosis_and_header_names_only(
    make: Callable[..., WebhookAuthenticator], rejections: RejectionLog
) -> None:
    # Given mode signing-key and a basic-auth-signed webhook (X-SIGNATURE without X-TIMESTAMP)
    body = webhook_body("SUCCESSFUL")
    headers = {**basic_headers(body), "Authorization": "Basic c2VjcmV0", "User-Agent": "x"}
    # When it arrives
    assert rejection(make("signing-key", rejections=rejections), body, headers) == "missing_signature"
    # Then the rejection is kept: why, which header names, which mode would take it; never a value
    kept = rejections.get(body)
    assert kept is not None
    assert kept["reason"] == "missing_signature" and kept["signatureMode"] == "signing-key"
    assert kept["diagnosis"].startswith("X-SIGNATURE without X-TIMESTAMP; signing-key refused it")
    assert "basic-auth would accept it (WebhookSignatureMode=basic-auth or any)" in kept["diagnosis"]
    assert kept["headerNames"] == ["AUTHORIZATION", "X-SIGNATURE"]
    assert kept["wouldAcceptWith"] == ["basic-auth", "any"]
    assert kept["rejectedCount"] == 1 and kept["bodyBytes"] == len(body) and "body" not in kept
    assert kept["expiresAt"] - int(rejections._clock().timestamp()) == 7 * 86400
    text = repr(kept)
    for value in (headers["x-signature"], "c2VjcmV0", PASSWORD, SIGNING_KEY):
        assert value not in text


def test_a_flood_of_forgeries_writes_a_bounded_number_of_items(
    make: Callable[..., WebhookAuthenticator], rejections: RejectionLog, aws: Any
) -> None:
    auth = make("any", rejections=rejections)
    # Given 50 repeats of one forged body, then 50 distinct forged bodies, in one hour (budget 5)
    forged = webhook_body("SUCCESSFUL")
    for _ in range(50):
        rejection(auth, forged, {"x-signature": "00" * 32})
    for n in range(50):
        rejection(
            auth, webhook_body("SUCCESSFUL", partner_reference=f"order-{n}"), {"x-signature": "11" * 32}
        )
    # Then at most the hourly budget of rejection items was written (repeats collapsing), plus one counter
    items = aws.dynamodb.scan(TableName="WebhookEventsTable")["Items"]
    keys = sorted(item["eventId"]["S"] for item in items)
    assert len([k for k in keys if k.startswith("rejected#")]) <= 5
    assert len([k for k in keys if k.startswith(BUDGET_PREFIX)]) == 1
    kept = rejections.get(rejection_key(forged))
    assert kept is not None and kept["rejectedCount"] == 1  # its repeats cost no write (this container)
    # And the hour's budget item counts the kept ones by reason (what pay1st_ops report reads, by key)
    budget = rejections.get(budget_key(rejections._clock()))
    assert budget is not None and budget["kept"] == 5 and budget["reason:invalid_signature"] == 5


def test_header_names_are_bounded() -> None:
    headers = {f"X-Signature-{n}-" + "a" * 100: "v" for n in range(40)}
    names = auth_header_names(headers)
    assert len(names) == 16 and all(len(name) <= 64 for name in names)


# ------------------------------------------------------------------------------------- partner identity


def test_an_event_naming_another_partner_is_foreign(make: Callable[..., WebhookAuthenticator]) -> None:
    auth = make(partner_code="STUDIO", partner_id="42")
    assert auth.foreign_partner("42", "STUDIO") is None
    assert auth.foreign_partner(None, None) is None
    assert auth.foreign_partner("42", "OTHER") == "partnerCode is not ours"
    assert auth.foreign_partner("43", "STUDIO") == "partnerId is not ours"
    assert make().foreign_partner("43", "OTHER") is None  # not configured: not checked
