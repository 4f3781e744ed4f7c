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


class RejectionLog:
    def __init__(
        self,
        table_name: str,
        *,
        client: Any,
        clock: Callable[[], datetime] = utcnow,
        retention: timedelta = DEFAULT_RETENTION,
        hourly_budget: int = DEFAULT_HOURLY_BUDGET,
    ) -> None:
        self._table = table_name
        self._client = client
        self._clock = clock
        self._retention = retention
        self._budget = hourly_budget

    def keep(self, raw_body: bytes, rejection: Rejection) -> bool:
        """Write (or count again) the rejection; False when over budget or DynamoDB failed."""
        now = self._clock()
        expires = str(int((now + self._retention).timestamp()))
        try:
            if not self._claim_budget(now, expires, rejection.reason):
                count("WebhookRejectionNotKept")
                return False
            values: dict[str, Any] = {
                ":kind": "rejected",
                ":reason": rejection.reason,
                ":diagnosis": rejection.diagnosis,
                ":mode": rejection.mode,
                ":names": list(rejection.header_names),
                ":would": list(rejection.would_accept_with),
                ":size": len(raw_body),
                ":sha": hashlib.sha256(raw_body).hexdigest(),
                ":now": isoformat(now),
                ":one": 1,
            }
            self._client.update_item(
                TableName=self._table,
                Key={"eventId": {"S": rejection_key(raw_body)}},
                UpdateExpression=(
                    "SET #kind = :kind, #reason = :reason, diagnosis = :diagnosis, signatureMode = :mode, "
                    "headerNames = :names, wouldAcceptWith = :would, bodyBytes = :size, bodySha256 = :sha, "
                    "lastRejectedAt = :now, firstRejectedAt = if_not_exists(firstRejectedAt, :now), "
                    "expiresAt = :exp ADD rejectedCount :one"
                ),
                ExpressionAttributeNames={"#kind": "kind", "#reason": "reason"},
                ExpressionAttributeValues={**to_item(values), ":exp": {"N": expires}},
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("webhook rejection not kept", extra={"error_type": type(exc).__name__})
            return False
        return True

    def _claim_budget(self, now: datetime, expires: str, reason: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"eventId": {"S": budget_key(now)}},
                UpdateExpression="SET expiresAt = if_not_exists(expiresAt, :exp) ADD kept :one, #reason :one",
                ConditionExpression="attribute_not_exists(kept) OR kept < :max",
                ExpressionAttributeNames={"#reason": REASON_COUNT_PREFIX + reason},
                ExpressionAttributeValues={
                    ":exp": {"N": expires},
                    ":one": {"N": "1"},
                    ":max": {"N": str(self._budget)},
                },
            )
        except ClientError as exc:
            if is_condition_failure(exc):
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
