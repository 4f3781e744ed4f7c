"""What a failed money-moving gateway call (a payment's create, a refund's request) leaves of its claim.

Both calls claim first (``CREATING``, a conditional write) and then ask Pay1st. When the call fails, the claim
ends in one of two ways, and which depends only on whether Pay1st may have acted on it:

- **released**: the call certainly created nothing at Pay1st (refused on a first try, or never sent), so the
  claim is freed and a repeat starts afresh; the caller answers 503 (try again) or 422/502 (refused);
- **unknown**: it may have (the answer was lost, an unexpected error after sending, a crash, or any failure of
  a *retried* claim, whose earlier try may have reached Pay1st): the claim becomes ``CREATE_UNKNOWN``, never
  ``CREATING`` for good, and a repeat asks again under the same reference, which Pay1st dedupes.

One rule for both: payments and refunds each had their own copy, and the copies disagreed on a retried
claim that met a connection error (the refund's claim was left as it was).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pay1st.errors import (
    AuthenticationError,
    GatewayServerError,
    OutcomeUnknownError,
    Pay1stAPIError,
    Pay1stConnectionError,
    Pay1stError,
    RateLimitError,
)

from pay1st_partner.clock import age_seconds
from pay1st_partner.errors import DomainError, GatewayRejected, GatewayUnavailable
from pay1st_partner.observability import count, logger

# Longer than any claiming invocation can last (CreatePaymentFunction's and CreateRefundFunction's Timeout is
# 28 s in template.yaml): a claim still CREATING after this belongs to a Lambda that was killed mid-call.
STALE_CLAIM_AGE = timedelta(minutes=2)

ANSWER_LOST = "answer_lost"  # sent; the answer never came (OutcomeUnknownError)
UNEXPECTED = "unexpected"  # a gateway error of no known kind: it may have happened after sending
RETRY_FAILED = "retry_failed"  # a retried claim refused or unreachable: its earlier try may have landed
CRASHED = "crashed"  # not a gateway error at all (a bug, a timeout signal): re-raised as it is
REFUSED = "refused"  # Pay1st answered no to a first try
UNREACHABLE = "unreachable"  # a first try that never left (connection refused, DNS, TLS)


def is_abandoned_claim(updated_at: str, now: datetime) -> bool:
    """A CREATING claim older than any invocation can be: its Lambda died and will never finish it."""
    return age_seconds(updated_at, now) > STALE_CLAIM_AGE.total_seconds()


@dataclass(frozen=True)
class FailedCall:
    """What to do with the claim after ``exc``: release it and answer ``error``, or mark it unknown."""

    reason: str
    release: bool
    error: DomainError | None = None  # the answer when released

    @property
    def counts_as_unknown(self) -> bool:
        """The outcomes the *OutcomeUnknown metrics count (and their alarms watch): a call that may have landed."""
        return self.reason in (ANSWER_LOST, UNEXPECTED)


def log_fields(exc: BaseException) -> dict[str, Any]:
    """What a log line may say of the failure: its type and the gateway's answer (never a secret)."""
    fields: dict[str, Any] = {"error_type": type(exc).__name__}
    for name in ("status", "error_code", "session_id"):
        value = getattr(exc, name, None)
        if value is not None:
            fields[name] = value
    return fields


def classify_failed_call(exc: BaseException, *, claim_is_new: bool, what: str) -> FailedCall:
    """Classify a failed create/refund call; ``what`` ("payment", "refund") words the refusal's message."""
    if not isinstance(exc, Pay1stError):
        return FailedCall(CRASHED, release=False)
    if isinstance(exc, OutcomeUnknownError):
        return FailedCall(ANSWER_LOST, release=False)
    if not isinstance(exc, Pay1stAPIError | Pay1stConnectionError):
        return FailedCall(UNEXPECTED, release=False)
    if not claim_is_new:
        return FailedCall(RETRY_FAILED, release=False)
    if isinstance(exc, Pay1stConnectionError) or isinstance(exc, RateLimitError | GatewayServerError):
        return FailedCall(
            UNREACHABLE if isinstance(exc, Pay1stConnectionError) else REFUSED, True, GatewayUnavailable()
        )
    detail = f" (errorCode {exc.error_code})" if exc.error_code else ""
    if isinstance(exc, AuthenticationError):
        return FailedCall(
            REFUSED, True, GatewayRejected(f"The Pay1st Gateway refused our credentials{detail}.")
        )
    return FailedCall(
        REFUSED, True, GatewayRejected(f"The Pay1st Gateway rejected the {what}{detail}.", http_status=422)
    )


@dataclass(frozen=True)
class ClaimActions:
    """How one kind of claim (a payment's, a refund's) is released or marked unknown, and its names."""

    what: str  # "payment", "refund": words the refusal's message
    call: str  # "create", "refund": words the log lines
    release: Callable[[], None]
    mark_unknown: Callable[[], None]
    unknown_metric: str  # CreateOutcomeUnknown, RefundOutcomeUnknown


def settle_failed_call(
    exc: BaseException, *, claim_is_new: bool, claim: ClaimActions, log: Mapping[str, Any]
) -> BaseException | None:
    """Leave the claim as :func:`classify_failed_call` says; what to raise (None: the caller's OutcomeUnknown)."""
    failed = classify_failed_call(exc, claim_is_new=claim_is_new, what=claim.what)
    extra = {**log, **log_fields(exc), "reason": failed.reason}
    if failed.release:
        claim.release()
        logger.warning(f"{claim.call} failed; claim released", extra=extra)
        return failed.error
    claim.mark_unknown()  # never CREATING for good (it would answer 409 until it aged out)
    if failed.reason == CRASHED:
        return exc
    if failed.counts_as_unknown:
        count(claim.unknown_metric)
    logger.warning(f"{claim.call} outcome unknown", extra=extra)
    return None
