"""The client's pure parts: every error code the bundle answers has its exception, and the retry policy."""

from __future__ import annotations

import random
import re

import pytest
from local_stack.template import PROJECT_ROOT
from pay1st_partner_client import (
    BY_CODE,
    CreateOutcomeUnknown,
    Forbidden,
    Pay1stPartnerError,
    PaymentNotFound,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedResponse,
    error_for,
)
from pay1st_partner_client.retry import backoff_seconds, should_retry

LAYER = PROJECT_ROOT / "layers" / "pay1st" / "pay1st_partner"
README = PROJECT_ROOT / "README.md"


def codes_the_bundle_answers() -> set[str]:
    """Every ``code=...`` / ``code = ...`` / ``error_response(..., "code", ...)`` in the partner layer."""
    found: set[str] = set()
    for path in LAYER.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', text))
        found.update(re.findall(r'error_response\([^,]+,\s*"([a-z_]+)"', text))
    return found - {"domain_error"}  # the abstract base's placeholder, never answered


def codes_in_readme() -> set[str]:
    """Backticked snake_case words on the lines of the HTTP API section that name a status (4xx/5xx)."""
    section = README.read_text(encoding="utf-8").split("## The HTTP API for your backend", 1)[1]
    section = section.split("## Events your fulfilment consumes", 1)[0]
    lines = [line for line in section.splitlines() if re.search(r"\b[45]\d\d\b", line)]
    return {code for line in lines for code in re.findall(r"`(?:[45]\d\d )?([a-z]+_[a-z_]+)`", line)}


def test_every_code_the_bundle_answers_has_its_exception() -> None:
    assert codes_the_bundle_answers() - set(BY_CODE) == set()
    assert len(codes_the_bundle_answers()) >= 15


def test_every_code_of_the_readme_s_error_tables_has_its_exception() -> None:
    status_codes = {
        code for code in codes_in_readme() if code in BY_CODE or code.endswith(("_found", "_json"))
    }
    assert status_codes - set(BY_CODE) == set()
    assert {"payment_conflict", "create_outcome_unknown", "fulfilment_not_queued"} <= status_codes


@pytest.mark.parametrize("code", sorted(BY_CODE))
def test_a_response_with_a_code_becomes_its_exception(code: str) -> None:
    error = error_for(409, {"code": code, "message": "m"}, "req-1")
    assert type(error) is BY_CODE[code] and isinstance(error, Pay1stPartnerError)
    assert (error.status, error.code, error.message, error.request_id) == (409, code, "m", "req-1")


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, Unauthorized), (403, Forbidden), (503, ServiceUnavailable), (418, UnexpectedResponse)],
)
def test_api_gateway_s_own_answers_map_by_status(status: int, cls: type[Pay1stPartnerError]) -> None:
    error = error_for(status, {"message": "Forbidden"})
    assert type(error) is cls and error.code is None and error.message == "Forbidden"


def test_specific_classes_keep_their_code() -> None:
    assert error_for(404, {"code": "payment_not_found"}).__class__ is PaymentNotFound
    assert isinstance(error_for(502, {"code": "create_outcome_unknown"}), CreateOutcomeUnknown)


@pytest.mark.parametrize(
    ("status", "code", "attempt", "retried"),
    [
        (None, None, 1, True),  # connection failed
        (502, "gateway_unavailable", 1, True),
        (502, "create_outcome_unknown", 2, True),  # the same reference asks Pay1st again: safe
        (503, None, 1, True),
        (429, None, 1, True),
        (409, "create_in_progress", 1, True),
        (502, "refund_outcome_unknown", 1, True),  # the identical request, same refundReference: safe
        (409, "refund_in_progress", 1, True),
        (409, "refund_conflict", 1, False),
        (409, "payment_not_refundable", 1, False),
        (400, "amount_exceeds_refundable", 1, False),
        (502, "gateway_rejected", 1, False),  # our credentials: retrying cannot help
        (409, "payment_conflict", 1, False),
        (400, "invalid_request", 1, False),
        (403, None, 1, False),
        (503, None, 3, False),  # out of attempts
        (None, None, 3, False),
    ],
)
def test_which_failures_are_retried(
    status: int | None, code: str | None, attempt: int, retried: bool
) -> None:
    assert should_retry(status, code, attempt, max_attempts=3) is retried


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 0.25), (2, 0.5), (3, 1.0), (6, 4.0), (20, 4.0)):
        waits = [backoff_seconds(attempt, rng=rng) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling * 0.8  # it uses the whole range
