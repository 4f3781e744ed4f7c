"""The webhook step: wait (bounded, with a countdown) until Pay1st's webhook for the test payment is recorded.

Read from the stack's WebhookEventsTable, as an operator would: an accepted event carries the payment's
``partnerReference`` and the ``signatureScheme`` it verified under; a rejected one is kept under
``rejected#<sha256 of the body>`` with its ``diagnosis`` and ``wouldAcceptWith`` (the signature modes that
would have accepted it). A rejected body cannot be tied to a payment (it was not trusted enough to parse),
so any rejection since the check started counts, and is reported when no accepted event arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pay1st.errors import Pay1stError

from go_live.context import Check, Countdown
from go_live.report import Outcome, failed, passed

REJECTED_PREFIX = "rejected#"
CLOCK_SKEW = timedelta(seconds=60)  # rejections this much older than the start still count (clocks differ)
REJECTION_GRACE_SECONDS = 10.0  # after a rejection, how long an accepted retry may still arrive (deployed)

_DESERIALIZER = TypeDeserializer()


def _scan(check: Check, **kwargs: Any) -> Iterator[dict[str, Any]]:
    table = check.target.outputs["WebhookEventsTableName"]
    paginator = check.target.dynamodb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True, **kwargs):
        for item in page.get("Items", []):
            yield {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def accepted_event(check: Check, partner_reference: str) -> dict[str, Any] | None:
    """The recorded (authenticated, or unsigned in mode ``off``) webhook for the payment, if any."""
    return _latest(
        check,
        "receivedAt",
        "partnerReference = :ref AND NOT begins_with(eventId, :rejected)",
        {":ref": {"S": partner_reference}, ":rejected": {"S": REJECTED_PREFIX}},
    )


def recent_rejection(check: Check) -> dict[str, Any] | None:
    """The latest webhook rejected since the check started (minus clock skew), if any."""
    since = (check.started_at - CLOCK_SKEW).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return _latest(
        check,
        "lastRejectedAt",
        "begins_with(eventId, :rejected) AND lastRejectedAt >= :since",
        {":rejected": {"S": REJECTED_PREFIX}, ":since": {"S": since}},
    )


def _latest(check: Check, by: str, condition: str, values: dict[str, Any]) -> dict[str, Any] | None:
    """The webhook record matching ``condition`` with the latest ``by`` timestamp, if any."""
    found = list(_scan(check, FilterExpression=condition, ExpressionAttributeValues=values))
    found.sort(key=lambda item: str(item.get(by, "")))
    return found[-1] if found else None


def webhook_arrives(check: Check) -> Outcome:
    target, payment = check.target, check.payment
    if target.pay is not None:
        check.say(f"      {target.pay(payment['reference'])}")
    countdown = Countdown(check.progress, "Pay1st's webhook", check.options.webhook_timeout)
    rejected_at: float | None = None
    grace = 0.0 if target.local else REJECTION_GRACE_SECONDS  # locally every attempt has been made already
    try:
        while True:
            accepted = accepted_event(check, payment["partnerReference"])
            if accepted is not None:
                return _accepted(check, accepted)
            rejection = recent_rejection(check)
            if rejection is not None:
                rejected_at = rejected_at or time.monotonic()
                if time.monotonic() - rejected_at >= grace:
                    return _rejected(check, rejection)
            if countdown.expired:
                return _nothing(check)
            countdown.tick()
            time.sleep(min(check.options.poll_interval, max(countdown.remaining, 0.1)))
    finally:
        countdown.done()


def _accepted(check: Check, record: Mapping[str, Any]) -> Outcome:
    scheme = record.get("signatureScheme")
    details = {
        "signatureScheme": scheme,
        "outcome": record.get("outcome"),
        "reportedStatus": record.get("reportedStatus"),
        "eventId": record.get("eventId"),
    }
    what = f"{record.get('reportedStatus')} event, outcome {record.get('outcome')}"
    if not scheme:
        return passed(
            f"recorded UNSIGNED ({what}); accepted only because WebhookSignatureMode=off, and it only "
            "prompted a status query",
            **details,
        )
    return passed(f"recorded and authenticated with scheme {scheme} ({what})", **details)


def _rejected(check: Check, record: Mapping[str, Any]) -> Outcome:
    would = [str(mode) for mode in record.get("wouldAcceptWith") or []]
    mode = record.get("signatureMode") or check.target.parameters.get("WebhookSignatureMode")
    details = {
        "reason": record.get("reason"),
        "diagnosis": record.get("diagnosis"),
        "wouldAcceptWith": would,
        "headerNames": list(record.get("headerNames") or []),
        "eventId": record.get("eventId"),
        "signatureMode": mode,
    }
    reason = f"rejected ({record.get('reason')}): {record.get('diagnosis')}"
    if would:
        fix = (
            f"set WebhookSignatureMode={' or '.join(would)} (Pay1st signs with {would[0]}): "
            f"sam deploy --parameter-overrides WebhookSignatureMode={would[-1]} …; "
            f"the kept rejection is {record.get('eventId')} in the WebhookEventsTable"
        )
    else:
        fix = (
            "no configured credentials verify it: compare the Signing Key and webhookUsername/webhookPassword in "
            "the secret with the Pay1st Console for this environment"
        )
    return failed(reason, fix, **details)


def _nothing(check: Check) -> Outcome:
    """No webhook at all: say whether the gateway has the payment paid, which tells where to look."""
    at_gateway = "unknown"
    if check.client is not None:
        try:
            at_gateway = check.client.get_payment(check.payment["reference"]).status
        except Pay1stError as exc:
            at_gateway = f"unknown ({type(exc).__name__})"
    waited = f"{check.options.webhook_timeout:.0f} s"
    webhook_url = check.target.outputs.get("WebhookUrl", "the WebhookUrl output")
    if at_gateway in ("NEW", "PENDING"):
        return failed(
            f"no webhook within {waited}; the gateway has the payment {at_gateway}: nobody paid it yet",
            "open the checkout link printed by the create step, pay, and run the check again "
            "(or give it longer: --webhook-timeout)",
            gatewayStatus=at_gateway,
        )
    return failed(
        f"no webhook recorded or rejected within {waited}; the gateway has the payment {at_gateway}",
        f"set the Pay1st Console's Webhook URL to {webhook_url} and check it is reachable from the internet",
        gatewayStatus=at_gateway,
    )
