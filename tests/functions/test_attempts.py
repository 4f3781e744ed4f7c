"""Attempts (README "Attempts"): the real create, webhook and status handlers on moto and the Pay1st sandbox.

The sandbox stores a payment and stalls past our deadline (an unknown outcome); its signed webhooks reach
the real webhook handler over loopback, and the partner's repeats go through the real create handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from pay1st_partner import runtime

from tests.conftest import FakeLambdaContext, _reset_runtime
from tests.functions.inbound import STATUS_QUERY_ROUTE, ApiBridge, api_bridge, route_count
from tests.functions.outbound import Result, create, create_body
from tests.functions.test_payment_status import get
from tests.functions.test_webhook_intake import PATH, event_body, handler, post, signed

CREATE_ROUTE = "POST /api/pay1st/payments/create"


@pytest.fixture
def bridge(aws: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiBridge]:
    """The webhook route on loopback, and our public base URL pointing at it (webhookUrl of every create)."""
    with api_bridge({("POST", PATH): handler()}) as running:
        monkeypatch.setenv("PUBLIC_BASE_URL", running.base_url)
        _reset_runtime()
        yield running


def stalled_then_repeated(http_event: Callable[..., dict[str, Any]], sandbox: Any, reference: str) -> Result:
    """A create the sandbox stores and then answers too late for (502 unknown), and the partner's repeat."""
    # A warm container first (generous: a cold one under load spends seconds importing and reading secrets)
    assert create(http_event, FakeLambdaContext(120), create_body(f"{reference}-warm")).status == 201
    sandbox.control.set_faults(create_stall_seconds=3.0, create_stall_count=1)
    first = create(http_event, FakeLambdaContext(timeout_seconds=2.5), create_body(reference))
    assert (first.status, first.code) == (502, "create_outcome_unknown")
    assert "Repeating this same request is safe" in first.body["message"]
    return create(http_event, FakeLambdaContext(), create_body(reference))


def at_sandbox(sandbox: Any, gateway_reference: str) -> dict[str, Any]:
    [payment] = [p for p in sandbox.control.payments() if p.get("partnerReference") == gateway_reference]
    return dict(payment)


def outcomes(sandbox: Any) -> list[str]:
    return [
        json.loads(d["attempts"][-1]["responseBody"])["outcome"] for d in sandbox.control.webhook_deliveries()
    ]


def test_a_stalled_create_is_recovered_by_the_next_repeat_with_a_working_link_and_one_paid_attempt(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a create whose answer was lost, then repeated by the partner
    again = stalled_then_repeated(http_event, sandbox, "order-stall")

    # Then the repeat made a new attempt under the derived reference and answers with its link
    assert again.status == 201 and again.body["status"] == "NEW"
    second = at_sandbox(sandbox, "order-stall..2")
    assert again.body["reference"] == second["reference"]
    assert at_sandbox(sandbox, "order-stall")["reference"] != second["reference"]  # the lost attempt, unused
    assert [(a["attemptReference"], a["current"]) for a in again.body["attempts"]] == [
        ("order-stall", False),
        ("order-stall..2", True),
    ]
    page = urllib3.request("GET", again.body["checkoutUrl"], redirect=False)
    assert page.status == 200 and 'data-partner-reference="order-stall..2"' in page.data.decode()

    # When the customer pays on that link and the sandbox's webhook (for the derived reference) arrives
    sandbox.control.settle(second["reference"], "pay")
    sandbox.control.flush_webhooks()

    # Then the payment is paid by exactly that attempt, announced once with its attempts
    assert outcomes(sandbox) == ["applied"]
    view = get(http_event, "order-stall").body
    assert view["status"] == "SUCCESSFUL" and view["doublePaid"] is False
    assert [a["paid"] for a in view["attempts"]] == [False, True]
    assert at_sandbox(sandbox, "order-stall")["status"] == "NEW"
    [event] = aws.published_events()
    assert event["detail-type"] == "Payment Succeeded"
    assert event["detail"]["attemptReference"] == "order-stall..2"
    assert event["detail"]["supersededAttempts"] == ["order-stall"]
    # And a further repeat answers the same payment without another create
    creates = route_count(sandbox, CREATE_ROUTE)
    last = create(http_event, FakeLambdaContext(), create_body("order-stall"))
    assert (last.status, last.body["reference"], last.body["checkoutUrl"]) == (201, second["reference"], None)
    assert route_count(sandbox, CREATE_ROUTE) == creates


@pytest.mark.parametrize("outcome", ["fail", "cancel", "abandon"])
def test_a_superseded_attempt_failing_or_ending_changes_nothing(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]], outcome: str
) -> None:
    # Given a payment recovered by a new attempt
    again = stalled_then_repeated(http_event, sandbox, f"order-old-{outcome}")
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When the lost first attempt ends at Pay1st and its signed webhook arrives
    sandbox.control.settle(at_sandbox(sandbox, f"order-old-{outcome}")["reference"], outcome)
    sandbox.control.flush_webhooks()
    # Then it is acknowledged and ignored: still NEW on the new attempt, nothing announced, nothing queried
    assert outcomes(sandbox) == ["superseded_attempt"]
    record = runtime.payments().get(f"order-old-{outcome}")
    assert record is not None and (record.status, record.reference) == ("NEW", again.body["reference"])
    assert aws.published_events() == []
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries


def test_a_superseded_attempt_paid_is_confirmed_and_two_paid_attempts_are_reported(
    aws: Any,
    sandbox: Any,
    bridge: ApiBridge,
    http_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("STATUS_QUERY_MIN_INTERVAL_SECONDS", "0.01")  # two confirmations in a row
    _reset_runtime()
    # Given a payment recovered by a new attempt
    again = stalled_then_repeated(http_event, sandbox, "order-twice")
    first = at_sandbox(sandbox, "order-twice")["reference"]
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When the lost first attempt is paid after all (someone had its link)
    sandbox.control.settle(first, "pay")
    sandbox.control.flush_webhooks()
    # Then one status query confirms it and the payment is paid by that attempt
    assert outcomes(sandbox) == ["applied"]
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries + 1
    record = runtime.payments().get("order-twice")
    assert record is not None and (record.status, record.reference) == ("SUCCESSFUL", first)
    assert record.gateway_reference == "order-twice" and not record.double_paid
    [succeeded] = aws.published_events()
    assert succeeded["detail-type"] == "Payment Succeeded" and succeeded["detail"]["reference"] == first

    # When the new attempt is paid too
    sandbox.control.settle(again.body["reference"], "pay")
    sandbox.control.flush_webhooks()
    # Then it is confirmed and reported loudly: the payment stays SUCCESSFUL and is flagged for a refund
    assert outcomes(sandbox) == ["applied", "double_paid"]
    view = get(http_event, "order-twice").body
    assert view["status"] == "SUCCESSFUL" and view["reference"] == first and view["doublePaid"] is True
    assert sorted(a["paid"] for a in view["attempts"]) == [True, True]
    [twice] = aws.published_events()
    assert twice["detail-type"] == "Payment Paid Twice"
    assert twice["detail"]["paidAttempt"] == {
        "attemptReference": "order-twice..2",
        "reference": again.body["reference"],
    }
    out = capsys.readouterr().out
    assert '"PaymentPaidTwice":[1.0]' in out
    assert any(
        r.levelname == "ERROR" and r.getMessage().startswith("two attempts of one payment were paid")
        for r in caplog.records
    )


def test_webhooks_naming_derived_references_we_never_made_find_nothing_and_cost_nothing(
    aws: Any, sandbox: Any, bridge: ApiBridge, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a payment with one attempt, and one recovered by a second attempt
    assert create(http_event, FakeLambdaContext(120), create_body("order-plain")).status == 201
    stalled_then_repeated(http_event, sandbox, "order-two")
    plain, two = runtime.payments().get("order-plain"), runtime.payments().get("order-two")
    assert plain is not None and two is not None
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    stranger = post(http_event, body := event_body(plain, partnerReference="order-nobody"), signed(body))
    # When signed events name derived references of those payments that were never made (enumeration)
    guesses = [f"order-plain..{n}" for n in range(2, 10)] + [f"order-two..{n}" for n in range(3, 10)]
    guesses.append("order-two..2." + "0" * 12)
    answers = []
    for guess in guesses:
        body = event_body(two, partnerReference=guess)
        answers.append(post(http_event, body, signed(body)))
    # Then each is answered exactly as a stranger's reference is, with no status query and no change
    assert stranger.body == {"received": True, "matched": False, "outcome": "unmatched"}
    assert {(a.status, json.dumps(a.body, sort_keys=True)) for a in answers} == {
        (stranger.status, json.dumps(stranger.body, sort_keys=True))
    }
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries
    assert runtime.payments().get("order-two") == two and runtime.payments().get("order-plain") == plain
