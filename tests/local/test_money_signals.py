"""No money signal is ever dropped (issue 21, DESIGN §9), played through the local stack: the real functions
over loopback HTTP against the Pay1st sandbox, with the sandbox's redelivery turned OFF (one attempt per
webhook), so nothing here can lean on Pay1st delivering a webhook again. The status poller is run as its
schedule would run it, once the payment's query slot is free again."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from local_stack.own_routes import SCHEDULES_PREFIX
from local_stack.partner_auth import local_credentials
from local_stack.stack import LocalStack
from pay1st_partner_client import PartnerClient, Product, SigV4Auth
from pay1st_partner_client.errors import Pay1stPartnerError
from pay1st_sandbox.signing import format_timestamp, sign

from tests.local.local_kit import running_stack

# One status query per payment per 5 s (the template's 15 s, shortened so a test waits it out quickly).
INTERVAL = 5.0
AMOUNT = "250.50"
POLLER = "StatusPollerFunction"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env_vars = {"Parameters": {"STATUS_QUERY_MIN_INTERVAL_SECONDS": str(INTERVAL)}}
    with running_stack(tmp_path_factory, "money-signals", env_vars=env_vars) as running:
        yield running


@pytest.fixture
def sandbox(stack: LocalStack) -> Iterator[Any]:
    assert stack.sandbox is not None
    control = stack.sandbox.control
    control.set_faults(webhook_max_attempts=1)  # no redelivery: a webhook not answered 2xx is gone
    yield control
    control.clear_faults()


@pytest.fixture
def partner(stack: LocalStack) -> PartnerClient:
    # One attempt per call: the test decides when the partner repeats a create.
    return PartnerClient(
        stack.api_url, SigV4Auth("eu-west-1", credentials=local_credentials()), max_attempts=1
    )


def create(partner: PartnerClient, reference: str) -> Any:
    return partner.create_payment(
        reference,
        amount=AMOUNT,
        currency_code="ZAR",
        country_code="ZA",
        products=[Product("500 Gems", "GEM-500", AMOUNT, 1)],
    )


def lost_create_then_repeat(partner: PartnerClient, sandbox: Any, reference: str) -> tuple[str, str]:
    """The sandbox stores attempt 1 and answers too late (502 create_outcome_unknown); the partner's repeat
    makes attempt 2. Returns the two attempts' Pay1st references."""
    create(partner, f"{reference}-warm")  # a warm container: the stall, not a cold start, decides
    sandbox.set_faults(create_stall_seconds=12.0, create_stall_count=1)
    with pytest.raises(Pay1stPartnerError) as lost:
        create(partner, reference)
    assert lost.value.code == "create_outcome_unknown"
    second = create(partner, reference)
    first = next(p for p in sandbox.payments() if p.get("partnerReference") == reference)
    return str(first["reference"]), str(second.reference)


def post_signed_webhook(stack: LocalStack, fields: dict[str, Any]) -> dict[str, Any]:
    """A webhook signed with the stack's signing key (as Pay1st signs: §10), posted to the stack."""
    assert stack.sandbox is not None
    body = json.dumps(fields).encode()
    timestamp = format_timestamp(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-TIMESTAMP": timestamp,
        "X-SIGNATURE": sign(stack.sandbox.config.signing_key, timestamp, body),
    }
    # A cold webhook function on a loaded machine can take more than a few seconds; the function's own limit.
    timeout = urllib3.Timeout(connect=5, read=30)
    response = urllib3.request(
        "POST", f"{stack.api_url}/webhooks/pay1st", body=body, headers=headers, timeout=timeout
    )
    answer: dict[str, Any] = json.loads(response.data)
    return answer


def webhook_answers(sandbox: Any, pay1st_reference: str, status: str) -> list[tuple[int | None, str | None]]:
    """How the stack answered each attempt of the sandbox's ``status`` webhooks for ``pay1st_reference``."""
    answers: list[tuple[int | None, str | None]] = []
    for delivery in sandbox.webhook_deliveries():
        if delivery.get("reference") != pay1st_reference or delivery.get("status") != status:
            continue
        for attempt in delivery.get("attempts") or []:
            try:
                outcome = json.loads(attempt.get("responseBody") or "{}").get("outcome")
            except ValueError:
                outcome = None
            answers.append((attempt.get("statusCode"), outcome))
    return answers


def run_poller_after_the_interval(stack: LocalStack) -> dict[str, Any]:
    time.sleep(INTERVAL + 1.5)
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=90))
    response = http.request("POST", f"{stack.api_url}{SCHEDULES_PREFIX}{POLLER}")
    assert response.status == 200, response.data[:300]
    result: dict[str, Any] = json.loads(response.data)
    return result


def events_of(stack: LocalStack, reference: str) -> list[str]:
    return [
        e["detail-type"] for e in stack.published_events() if e["detail"].get("partnerReference") == reference
    ]


def test_a_paid_superseded_attempt_ends_successful_without_a_redelivery(
    stack: LocalStack, sandbox: Any, partner: PartnerClient
) -> None:
    """Given an order whose create answer was lost (attempt 1 at Pay1st) and whose repeat made attempt 2,
    And a signed webhook naming the order with a foreign Pay1st reference just took its status-query slot,
    When the customer pays attempt 1 and Pay1st's only webhook for it arrives within the interval,
    Then the stack answers it 2xx only as an owed confirmation, and the poller's next run confirms attempt 1
    by its own Pay1st reference: the order ends SUCCESSFUL with one Payment Succeeded."""
    reference = f"sig-superseded-{uuid.uuid4().hex[:8]}"
    first, _second = lost_create_then_repeat(partner, sandbox, reference)
    forged = {
        "partnerId": stack.sandbox.config.partner_id if stack.sandbox else 0,
        "partnerCode": stack.sandbox.config.partner_code if stack.sandbox else "",
        "partnerReference": reference,
        "reference": "C-000000000000001-P",
        "orderAmount": float(AMOUNT),
        "currencyCode": "ZAR",
        "countryCode": "ZA",
        "status": "SUCCESSFUL",
    }
    assert post_signed_webhook(stack, forged)["outcome"] in ("gateway_rejected", "reference_mismatch")
    sandbox.settle(first, "pay")
    sandbox.flush_webhooks(timeout=15)
    assert webhook_answers(sandbox, first, "SUCCESSFUL") == [(200, "confirmation_owed")]
    assert partner.get_payment(reference).status == "NEW"

    run_poller_after_the_interval(stack)

    payment = partner.get_payment(reference)
    assert (payment.status, payment.reference) == ("SUCCESSFUL", first)
    assert events_of(stack, reference) == ["Payment Succeeded"]


def test_two_attempts_paid_a_second_apart_end_double_paid_with_one_event(
    stack: LocalStack, sandbox: Any, partner: PartnerClient
) -> None:
    """Given an order with two attempts at Pay1st, When attempt 2 is paid and confirmed and attempt 1 is paid
    1 s later (its webhook finds the slot taken), Then that webhook is answered 2xx as owed (it was a 503 the
    sandbox never redelivers), and the poller's run ends the order doublePaid with one Payment Paid Twice."""
    reference = f"sig-twice-{uuid.uuid4().hex[:8]}"
    first, second = lost_create_then_repeat(partner, sandbox, reference)
    sandbox.settle(second, "pay")
    sandbox.flush_webhooks(timeout=15)
    time.sleep(1.0)
    sandbox.settle(first, "pay")
    sandbox.flush_webhooks(timeout=15)
    assert webhook_answers(sandbox, first, "SUCCESSFUL") == [(200, "confirmation_owed")]

    run_poller_after_the_interval(stack)

    payment = partner.get_payment(reference)
    assert payment.status == "SUCCESSFUL" and payment.double_paid
    assert events_of(stack, reference) == ["Payment Succeeded", "Payment Paid Twice"]


def test_a_full_refunds_reversal_is_recorded_and_the_refunded_payment_refuses_fulfilment(
    stack: LocalStack, sandbox: Any, partner: PartnerClient
) -> None:
    """Given a paid order (its confirming status query just made), When the partner refunds all of it and
    Pay1st's REFUND reversal arrives within the interval, once, Then fulfilment is refused with a code that
    says the payment is refunded (our own refunds cover it), and the poller records the reversal: one
    Payment Refunded."""
    reference = f"sig-refund-{uuid.uuid4().hex[:8]}"
    pay1st = str(create(partner, reference).reference)
    sandbox.settle(pay1st, "pay")
    sandbox.flush_webhooks(timeout=15)
    refund = partner.refund(reference, f"{reference}-r1", amount=AMOUNT, reason="test")
    assert refund.status in ("PENDING", "PROCESSING", "SUCCESSFUL")
    deadline = time.monotonic() + 20
    while not webhook_answers(sandbox, pay1st, "REFUND") and time.monotonic() < deadline:
        time.sleep(0.2)
    sandbox.flush_webhooks(timeout=15)
    # Answered 2xx once: owed (the slot is taken), or already recorded by our own refund's SUCCESSFUL
    [(code, outcome)] = webhook_answers(sandbox, pay1st, "REFUND")
    assert code == 200 and outcome in ("confirmation_owed", "duplicate")
    with pytest.raises(Pay1stPartnerError) as refused:
        partner.report_fulfilment(
            reference,
            [
                {
                    "sku": "GEM-500",
                    "quantity": 1,
                    "fulfilmentStatus": "FULFILLED",
                    "fulfilmentTime": "2026-01-15T10:35:00Z",
                }
            ],
        )
    assert (refused.value.status, refused.value.code) == (409, "payment_refunded")

    run_poller_after_the_interval(stack)

    payment = partner.get_payment(reference)
    assert payment.full_refund is not None and payment.refundable_amount == 0
    assert events_of(stack, reference).count("Payment Refunded") == 1
