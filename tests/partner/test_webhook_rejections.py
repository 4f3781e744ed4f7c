"""Kept rejections under a flood: a share of the hour's records for misconfigurations, and no write once
a record cannot (or need not) be made. On moto; the container's memory is the RejectionLog itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pay1st.webhook_credentials import webhook_credentials_from
from pay1st.webhooks import basic_auth_signature
from pay1st_partner.errors import WebhookRejected
from pay1st_partner.webhooks.auth import WebhookAuthenticator
from pay1st_partner.webhooks.rejections import RejectionLog, budget_key

from tests.partner.helpers import SIGNING_KEY, Clock, signed_headers, webhook_body

USER, PASSWORD = "partner-webhooks", "s3cr3t-Pa55"
SECRET = {"signingKey": SIGNING_KEY, "webhookUsername": USER, "webhookPassword": PASSWORD}


class CountingClient:
    """The moto DynamoDB client, counting the calls a rejection makes (what the caller waits for)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0

    def update_item(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self._client.update_item(**kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        return self._client.get_item(**kwargs)


@pytest.fixture
def dynamodb(aws: Any) -> CountingClient:
    return CountingClient(aws.dynamodb)


def authenticator(log: RejectionLog, clock: Clock, mode: str = "signing-key") -> WebhookAuthenticator:
    credentials = webhook_credentials_from(SECRET)
    return WebhookAuthenticator(mode=mode, credentials=lambda: credentials, clock=clock, rejections=log)


def refused(auth: WebhookAuthenticator, body: bytes, headers: dict[str, str]) -> tuple[int, str, str]:
    with pytest.raises(WebhookRejected) as caught:
        auth.authenticate(body, headers)
    return caught.value.http_status, caught.value.code, caught.value.message


def junk(n: int) -> tuple[bytes, dict[str, str]]:
    """An anonymous probe: half without any signature, half with a garbled one."""
    body = b'{"probe": %d}' % n
    return body, ({} if n % 2 else {"x-signature": f"not-a-mac-{n}", "x-timestamp": "2026-01-15T10:30:00Z"})


# ---------------------------------------------------------------------------------- the reserved share


def test_a_flood_of_anonymous_rejections_leaves_room_for_misconfigurations(
    dynamodb: CountingClient, clock: Clock
) -> None:
    """Given an hour's budget of 4 records and a flood of 40 anonymous probes (unsigned or garbled)
    When three webhooks arrive that a wrong setting would send: signed with another key, an authentic one
    whose clock is 10 minutes off, and a basic-auth one with a stale password
    Then each of them is kept with its diagnosis (the flood kept only its share), and the budget holds."""
    log = RejectionLog("WebhookEventsTable", client=dynamodb, clock=clock, hourly_budget=4)
    auth = authenticator(log, clock, mode="any")
    for n in range(40):
        refused(auth, *junk(n))
    body = webhook_body("SUCCESSFUL")
    wrong_key = webhook_body("SUCCESSFUL", partner_reference="order-wrong-key")
    late = webhook_body("SUCCESSFUL", partner_reference="order-late")
    basic = webhook_body("SUCCESSFUL", partner_reference="order-basic")
    misconfigured = {
        wrong_key: signed_headers(wrong_key, at=clock(), key="sk_the_other_environment"),
        late: signed_headers(late, at=clock() - timedelta(minutes=10)),
        basic: {"x-signature": basic_auth_signature(USER, "last-years-password", basic)},
    }
    codes = [refused(auth, sent, headers)[1] for sent, headers in misconfigured.items()]
    assert codes == ["invalid_signature", "stale_timestamp", "invalid_signature"]
    for sent in misconfigured:
        kept = log.get(sent)
        assert kept is not None and kept["budgetShare"] == "misconfiguration"
    assert log.get(body) is None
    budget = log.get(budget_key(clock()))
    assert budget is not None and budget["kept"] == 4 and budget["anonymous"] == 1
    # And once the whole budget is spent, a further misconfiguration is not kept either (bounded)
    extra = webhook_body("SUCCESSFUL", partner_reference="order-extra")
    refused(auth, extra, signed_headers(extra, at=clock(), key="sk_other"))
    assert log.get(extra) is None


@pytest.mark.parametrize(
    ("headers", "code", "would", "share"),
    [
        ({}, "missing_signature", (), "anonymous"),
        ({"X-TIMESTAMP": "2026-01-15T10:30:00Z"}, "missing_signature", (), "anonymous"),
        ({"x-signature": "garbage"}, "invalid_signature", (), "anonymous"),
        ({"x-signature": "ab" * 31 + "a"}, "invalid_signature", (), "anonymous"),  # 63 hex digits
        ({"x-signature": "zz" * 32}, "invalid_signature", (), "anonymous"),
        ({"x-signature": "ab" * 32}, "invalid_signature", (), "misconfiguration"),
        ({"X-Signature": " " + "AB" * 32 + " "}, "invalid_signature", (), "misconfiguration"),
        ({"x-signature": "ab" * 32}, "missing_signature", (), "misconfiguration"),  # basic-auth's, no key
        ({"x-signature": "garbage"}, "stale_timestamp", (), "misconfiguration"),
        ({}, "missing_signature", ("basic-auth", "any"), "misconfiguration"),
    ],
)
def test_which_share_a_rejection_may_use(
    headers: dict[str, str], code: str, would: tuple[str, ...], share: str
) -> None:
    from pay1st_partner.webhooks.auth import (
        budget_share,
    )  # (new: imported here, so the rest runs on old code)

    assert budget_share(headers, code, would) == share


# ---------------------------------------------------------------------------------- what the caller pays


def test_once_the_anonymous_share_is_spent_a_flood_costs_no_write(
    dynamodb: CountingClient, clock: Clock
) -> None:
    """Given an hour's budget of 8 (2 for anonymous rejections) in one warm container
    When 30 anonymous probes arrive
    Then the first two cost their two writes, the third one failed claim, and the other 27 nothing,
    each answered the same 401; a misconfiguration is still written; the next hour writes again."""
    log = RejectionLog("WebhookEventsTable", client=dynamodb, clock=clock, hourly_budget=8)
    auth = authenticator(log, clock)
    answers = set()
    calls = []
    for n in range(30):
        before = dynamodb.calls
        answers.add(refused(auth, *junk(n)))
        calls.append(dynamodb.calls - before)
    assert calls == [2, 2, 1] + [0] * 27
    assert answers == {
        (
            401,
            "missing_signature",
            "The webhook must carry an X-SIGNATURE header (and X-TIMESTAMP for signing-key).",
        ),
        (401, "invalid_signature", "The webhook signature could not be verified."),
    }
    forged = webhook_body("SUCCESSFUL")
    before = dynamodb.calls
    refused(auth, forged, signed_headers(forged, at=clock(), key="sk_other"))
    assert dynamodb.calls - before == 2 and log.get(forged) is not None
    # When the hour turns, the share is there again (the counter is per hour)
    clock.advance(3600)
    before = dynamodb.calls
    refused(auth, *junk(100))
    assert dynamodb.calls - before == 2 and log.get(junk(100)[0]) is not None


def test_a_repeat_of_a_kept_body_costs_no_write(dynamodb: CountingClient, clock: Clock) -> None:
    """Given a forged webhook kept once in this container
    When the same body comes 20 more times within the hour (a retrying sender, or a replay)
    Then none of them costs a DynamoDB call, the record stays one, the budget counted it once."""
    log = RejectionLog("WebhookEventsTable", client=dynamodb, clock=clock, hourly_budget=8)
    auth = authenticator(log, clock)
    body = webhook_body("SUCCESSFUL")
    headers = signed_headers(body, at=clock(), key="sk_other")
    refused(auth, body, headers)
    before = dynamodb.calls
    for _ in range(20):
        clock.advance(1)
        assert refused(auth, body, headers)[:2] == (401, "invalid_signature")
    assert dynamodb.calls == before
    kept, budget = log.get(body), log.get(budget_key(clock()))
    assert kept is not None and kept["rejectedCount"] == 1
    assert budget is not None and budget["kept"] == 1


def test_once_the_whole_budget_is_spent_nothing_costs_a_write(dynamodb: CountingClient, clock: Clock) -> None:
    """Given an hour's budget of 2, spent by misconfigurations
    When more of either kind arrive
    Then the first finds it spent with one call, and none after it makes any."""
    log = RejectionLog("WebhookEventsTable", client=dynamodb, clock=clock, hourly_budget=2)
    auth = authenticator(log, clock)
    bodies = [webhook_body("SUCCESSFUL", partner_reference=f"order-{n}") for n in range(6)]
    calls = []
    for body in bodies:
        before = dynamodb.calls
        refused(auth, body, signed_headers(body, at=clock(), key="sk_other"))
        calls.append(dynamodb.calls - before)
    before = dynamodb.calls
    for n in range(5):
        refused(auth, *junk(n))
    assert calls == [2, 2, 1, 0, 0, 0] and dynamodb.calls == before


def test_a_share_is_a_fraction(aws: Any) -> None:
    with pytest.raises(ValueError, match="fraction"):
        RejectionLog("WebhookEventsTable", client=aws.dynamodb, anonymous_share=1.5)


def test_a_failed_write_is_not_remembered_as_kept(aws: Any, clock: Clock) -> None:
    """Given DynamoDB failing the record's write once
    When the same body comes again
    Then it is written then (a failure is not a record)."""
    from botocore.exceptions import ClientError

    class FailingOnce(CountingClient):
        failed = False

        def update_item(self, **kwargs: Any) -> Any:
            if kwargs["Key"]["eventId"]["S"].startswith("rejected#") and not self.failed:
                self.failed = True
                raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")
            return super().update_item(**kwargs)

    log = RejectionLog("WebhookEventsTable", client=FailingOnce(aws.dynamodb), clock=clock)
    auth = authenticator(log, clock)
    body = b'{"probe": 1}'
    refused(auth, body, {})
    assert log.get(body) is None
    refused(auth, body, {})
    kept = log.get(body)
    assert kept is not None and kept["rejectedCount"] == 1
