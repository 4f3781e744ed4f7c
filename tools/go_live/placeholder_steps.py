"""The checklist's "nothing is still an example": the stack's own values that samconfig.toml ships as placeholders.

``make deploy`` refuses them (``release.stack.placeholders``: hosts reserved for examples, RFC 2606/6761), but a
stack deployed another way, or before that check, may still carry them: a ``ResultPageUrl`` on shop.example.com
sends every paying customer to a page that does not exist, and alarms to payments-oncall@example.com (or to a
topic nobody confirmed a subscription to) fire into the void. The credentials secret's ``REPLACE_ME`` is step 1's.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from go_live.context import Check
from go_live.report import Outcome, failed, not_applicable, passed
from release.stack import placeholders

PENDING = "PendingConfirmation"  # the SubscriptionArn SNS lists for a subscription nobody confirmed yet


def result_page(check: Check) -> Outcome:
    url = check.target.parameters.get("ResultPageUrl", "")
    found = placeholders({"ResultPageUrl": url}) if url else ["ResultPageUrl is not set"]
    if found:
        return failed(
            found[0],
            "deploy with your own result page: ResultPageUrl=https://<your shop>/payment-result in samconfig.toml, "
            "then make deploy",
        )
    return passed(f"ResultPageUrl {url}")


def alarm_subscription(check: Check) -> Outcome:
    """A placeholder AlarmEmail fails; so does an alarm topic with no confirmed subscription."""
    email = check.target.parameters.get("AlarmEmail", "")
    if email and placeholders({"AlarmEmail": email}):
        return failed(
            f"AlarmEmail={email} is a placeholder: every alarm goes to an address nobody reads",
            "deploy with AlarmEmail=<whoever is on call for payments> (samconfig.toml), then confirm the e-mail "
            "AWS sends to it",
        )
    if check.target.sns is None:
        return not_applicable("a local stack has no alarm topic")
    topic = check.target.outputs.get("AlarmTopicArn")
    if not topic:
        return failed("the stack has no AlarmTopicArn output", "deploy this bundle's template (make deploy)")
    try:
        subscriptions = _subscriptions(check.target.sns, topic)
    except (ClientError, BotoCoreError) as exc:
        return failed(
            f"cannot list the alarm topic's subscriptions: {exc}",
            f"allow sns:ListSubscriptionsByTopic on {topic}",
        )
    confirmed = [s for s in subscriptions if s.get("SubscriptionArn") != PENDING]
    pending = [s.get("Endpoint") for s in subscriptions if s.get("SubscriptionArn") == PENDING]
    details = {"confirmed": len(confirmed), "pending": len(pending)}
    if confirmed:
        endpoints = ", ".join(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in confirmed)
        return passed(f"alarms reach {endpoints}", **details)
    if pending:
        return failed(
            f"no confirmed subscription to the alarm topic: {', '.join(map(str, pending))} not confirmed yet",
            "open the e-mail AWS sent (subject 'AWS Notification - Subscription Confirmation') and confirm it",
            **details,
        )
    return failed(
        "nobody is subscribed to the alarm topic: alarms fire into the void",
        f"set AlarmEmail and make deploy, or subscribe a pager or chat integration to {topic}",
        **details,
    )


def _subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic):
        found.extend(page.get("Subscriptions", []))
    return found
