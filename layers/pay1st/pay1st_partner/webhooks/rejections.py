"""Rejected webhooks, kept a week so an operator sees why without reading logs (contract §10, go-live risk).

Stored in WebhookEventsTable beside the accepted events, under ``eventId = "rejected#" + sha256(raw body)``:
the reason code, a one-line diagnosis ("X-SIGNATURE without X-TIMESTAMP; signing-key refused it ..."), the
signature mode, the NAMES of the authentication headers it carried (never their values), the body's size
and hash (never the body: it is unauthenticated), first/last time and a count. Repeats of one body collapse
into one item.

Bounded against floods of forged requests: every item expires after ``retention`` (7 days, the table's TTL),
and at most ``hourly_budget`` rejections are written per hour (a conditional counter in a
``rejected-budget#<hour>`` item). Beyond it only the metric counts them, so a flood of distinct bodies
writes at most ``hourly_budget`` items an hour. The budget item also counts the hour's kept rejections by
reason (``reason:<code>``), so an operator's report reads a day's rejections by reason from 24 keys, without
a scan (``pay1st_ops report``). Keeping is best effort: a rejection is answered 401 whether
or not it could be written.

**A reserved share for misconfigurations.** A rejection that looks like a misconfiguration (its
``X-SIGNATURE`` is a well-formed 64-hex MAC that failed, or an authentic one refused by our window or our
mode: :data:`MISCONFIGURATION`) may use the whole budget; an anonymous one (no signature, or a garbled one:
:data:`ANONYMOUS`) only ``anonymous_share`` of it (a quarter: 250 of 1,000), counted as ``anonymous`` on the
same budget item, in the same one conditional write. So a flood of junk, which costs nothing to send, leaves
750 records an hour for the rejections go-live diagnosis reads (``tools/go_live``): one is enough to name the
fix, 250 junk records already show a probe as well as 1,000 (the metric counts all of them). A flood of
well-formed forged MACs can still spend the rest: the share tells junk from a plausible signature, nothing
can tell a random MAC from a wrong key without the key. And a gateway that does not sign at all looks
anonymous: under a flood of junk only the ``WebhookRejected`` metric (reason ``missing_signature``) shows it.

**The record costs the caller nothing once it cannot be written.** This log lives as long as the warm
container (``runtime`` caches it); it remembers the hour in which a share was found spent and the bodies it
kept this hour, so once a flood has spent its share, or a body repeats, the rejection is answered with no
DynamoDB call at all (the write is made before the 401, never after: Lambda freezes a container once it has
answered). ``rejectedCount`` therefore counts the writes, not every delivery (a repeat within the hour in the
same container is counted by the ``WebhookRejected`` metric only); another container or the next hour writes
again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pay1st_partner.clock import isoformat, utcnow
from pay1st_partner.observability import count, logger
from pay1st_partner.store.codec import from_item, is_condition_failure, to_item

REJECTED_PREFIX = "rejected#"
BUDGET_PREFIX = "rejected-budget#"
REASON_COUNT_PREFIX = "reason:"  # on a budget item: the hour's kept rejections with that reason
DEFAULT_RETENTION = timedelta(days=7)
DEFAULT_HOURLY_BUDGET = 1000
ANONYMOUS = "anonymous"  # no signature, or a garbled one: what a scanner sends
MISCONFIGURATION = "misconfiguration"  # a plausible signature that failed: what a wrong setting sends
DEFAULT_ANONYMOUS_SHARE = 0.25  # of the hour's budget; the rest is kept for misconfigurations
ANONYMOUS_COUNT = "anonymous"  # on a budget item: the hour's kept anonymous rejections


def rejection_key(raw_body: bytes) -> str:
    return REJECTED_PREFIX + hashlib.sha256(raw_body).hexdigest()


@dataclass(frozen=True)
class Rejection:
    """Why a webhook was refused, in terms an operator can act on (no secret, no header value)."""

    reason: str  # the answer's code: missing_signature, invalid_signature, stale_timestamp, ...
    diagnosis: str
    mode: str
    header_names: tuple[str, ...] = ()
    would_accept_with: tuple[str, ...] = ()  # signature modes that would have accepted it
    share: str = ANONYMOUS  # which share of the hour's budget it may use (MISCONFIGURATION: all of it)


class RejectionLog:
    def __init__(
        self,
        table_name: str,
        *,
        client: Any,
        clock: Callable[[], datetime] = utcnow,
        retention: timedelta = DEFAULT_RETENTION,
        hourly_budget: int = DEFAULT_HOURLY_BUDGET,
        anonymous_share: float = DEFAULT_ANONYMOUS_SHARE,
    ) -> None:
        if not 0 <= anonymous_share <= 1:
            raise ValueError("anonymous_share is a fraction of the hourly budget")
        self._table = table_name
        self._client = client
        self._clock = clock
        self._retention = retention
        self._budget = hourly_budget
        self._anonymous_budget = int(hourly_budget * anonymous_share)
        # This container's memory of the current hour (see the module docstring): whose share is spent, and
        # the bodies already kept (at most the hour's budget of them). Reset when the hour changes.
        self._hour = ""
        self._spent: set[str] = set()
        self._kept: set[str] = set()

    def keep(self, raw_body: bytes, rejection: Rejection) -> bool:
        """Write (or count again) the rejection; False when not written (repeat, over budget, failure)."""
        now = self._clock()
        key = rejection_key(raw_body)
        self._remember_hour(budget_key(now))
        if key in self._kept:
            return False  # kept this hour already: the repeat costs no write
        share = MISCONFIGURATION if rejection.share == MISCONFIGURATION else ANONYMOUS
        if share in self._spent:
            count("WebhookRejectionNotKept")
            return False  # found spent this hour: a flood costs no write
        expires = str(int((now + self._retention).timestamp()))
        try:
            if not self._claim_budget(now, expires, rejection.reason, share):
                count("WebhookRejectionNotKept")
                return False
            values: dict[str, Any] = {
                ":kind": "rejected",
                ":reason": rejection.reason,
                ":diagnosis": rejection.diagnosis,
                ":mode": rejection.mode,
                ":names": list(rejection.header_names),
                ":would": list(rejection.would_accept_with),
                ":share": share,
                ":size": len(raw_body),
                ":sha": hashlib.sha256(raw_body).hexdigest(),
                ":now": isoformat(now),
                ":one": 1,
            }
            self._client.update_item(
                TableName=self._table,
                Key={"eventId": {"S": key}},
                UpdateExpression=(
                    "SET #kind = :kind, #reason = :reason, diagnosis = :diagnosis, signatureMode = :mode, "
                    "headerNames = :names, wouldAcceptWith = :would, budgetShare = :share, "
                    "bodyBytes = :size, bodySha256 = :sha, lastRejectedAt = :now, "
                    "firstRejectedAt = if_not_exists(firstRejectedAt, :now), expiresAt = :exp "
                    "ADD rejectedCount :one"
                ),
                ExpressionAttributeNames={"#kind": "kind", "#reason": "reason"},
                ExpressionAttributeValues={**to_item(values), ":exp": {"N": expires}},
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("webhook rejection not kept", extra={"error_type": type(exc).__name__})
            return False
        self._kept.add(key)
        return True

    def _remember_hour(self, hour: str) -> None:
        if hour != self._hour:
            self._hour, self._spent, self._kept = hour, set(), set()

    def _claim_budget(self, now: datetime, expires: str, reason: str, share: str) -> bool:
        """One conditional write on the hour's counter: the whole budget, and an anonymous one's share."""
        anonymous = share == ANONYMOUS
        condition = "(attribute_not_exists(kept) OR kept < :max)"
        update = "SET expiresAt = if_not_exists(expiresAt, :exp) ADD kept :one, #reason :one"
        names = {"#reason": REASON_COUNT_PREFIX + reason}
        values = {":exp": {"N": expires}, ":one": {"N": "1"}, ":max": {"N": str(self._budget)}}
        if anonymous:
            condition += " AND (attribute_not_exists(#anonymous) OR #anonymous < :anonymous_max)"
            update += ", #anonymous :one"
            names["#anonymous"] = ANONYMOUS_COUNT
            values[":anonymous_max"] = {"N": str(self._anonymous_budget)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"eventId": {"S": budget_key(now)}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                # Spent until the hour turns: the anonymous share if either bound failed, all if the whole.
                self._spent.update((ANONYMOUS,) if anonymous else (ANONYMOUS, MISCONFIGURATION))
                return False
            raise
        return True

    def get(self, raw_body_or_key: bytes | str) -> Mapping[str, Any] | None:
        """The kept rejection of a body (or of its key), deserialized (for operators and tests)."""
        key = raw_body_or_key if isinstance(raw_body_or_key, str) else rejection_key(raw_body_or_key)
        item = self._client.get_item(
            TableName=self._table, Key={"eventId": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None


def budget_key(moment: datetime) -> str:
    """The key of the hour's budget item (and its counts by reason)."""
    return BUDGET_PREFIX + moment.strftime("%Y-%m-%dT%H")


def describe(rejection: Rejection) -> str:
    """One line for logs and reports."""
    names = ", ".join(rejection.header_names) or "none"
    return f"{rejection.reason}: {rejection.diagnosis} (headers: {names})"


def header_names(names: Sequence[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated, bounded: at most 16 names of at most 64 characters each."""
    return tuple(sorted({name[:64] for name in names}))[:16]
