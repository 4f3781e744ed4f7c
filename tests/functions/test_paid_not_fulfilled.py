"""The PaidNotFulfilled gauge: the status poller's scheduled run counts paid payments whose fulfilment was not
delivered in time, from the watch list (moto: a SUCCESSFUL payment stays on it until delivered), and its alarm
watches that metric (test_template.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pay1st_partner import runtime

from tests.functions.outbound import successful_payment
from tests.functions.test_fulfilment_sender import _fulfil, _poll_once


def _scheduled_run(lambda_context: Any, capsys: pytest.CaptureFixture[str]) -> list[float]:
    """Run the poller as its schedule does; the PaidNotFulfilled values it emitted (EMF on stdout)."""
    from functions.status_poller import app

    capsys.readouterr()
    app.lambda_handler(
        {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, lambda_context
    )
    values: list[float] = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and "PaidNotFulfilled" in line:
            record = json.loads(line)
            # the alarm's dimension set exactly: service only
            assert [d for m in record["_aws"]["CloudWatchMetrics"] for d in m["Dimensions"]] == [["service"]]
            values += record["PaidNotFulfilled"]
    return values


@pytest.fixture
def three_paid(
    aws: Any,
    sandbox: Any,
    lambda_context: Any,
    http_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given three paid payments: one fulfilment delivered, one queued but not delivered, one never recorded;
    their scheduled check (which the watch list keeps) is due 10 ms after creation."""
    monkeypatch.setenv("CHECK_SCHEDULE_SECONDS", "0.01")
    runtime.reset()
    for reference in ("order-delivered", "order-queued", "order-unfulfilled"):
        successful_payment(http_event, lambda_context, sandbox, reference)
    _fulfil(http_event, lambda_context, "order-delivered")
    assert _poll_once(aws, lambda_context)[1] == 1  # the sender delivers it
    _fulfil(http_event, lambda_context, "order-queued")  # left on the queue
    assert runtime.payments().get("order-delivered").fulfilment["deliveredAt"]  # type: ignore[union-attr]


def test_paid_payments_not_delivered_after_the_hours_are_counted_and_named(
    three_paid: None,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the limit (PAID_NOT_FULFILLED_HOURS) passed for all three
    monkeypatch.setenv("PAID_NOT_FULFILLED_HOURS", "0.00001")  # 36 ms
    runtime.reset()
    time.sleep(0.1)
    # When the poller runs on its schedule
    values = _scheduled_run(lambda_context, capsys)
    # Then the gauge counts the two without a delivered fulfilment, and the log names them
    assert values == [2.0]
    (warning,) = [r for r in caplog.records if hasattr(r, "partner_references")]
    assert sorted(warning.partner_references) == ["order-queued", "order-unfulfilled"]  # type: ignore[attr-defined]


def test_payments_younger_than_the_hours_count_zero(
    three_paid: None, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the template's default limit (2 hours), which none of them has reached
    assert runtime.settings().paid_not_fulfilled_hours == 2.0
    # When the poller runs, Then the gauge is emitted as zero (a value every run: its alarm treats none as bad)
    assert _scheduled_run(lambda_context, capsys) == [0.0]


def test_an_unreadable_watch_list_emits_nothing(
    aws: Any,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a watch-list query that DynamoDB refuses
    from pay1st_partner.store.dynamodb.store import DynamoDBPaymentStore

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "Query"
        )

    monkeypatch.setattr(DynamoDBPaymentStore, "due_payments", refused)
    # When the poller runs, Then its run fails (the next one retries) and it emits no PaidNotFulfilled: the
    # alarm reads a missing value as breaching, never a false zero
    with pytest.raises(ClientError):
        _scheduled_run(lambda_context, capsys)
    assert not [line for line in capsys.readouterr().out.splitlines() if "PaidNotFulfilled" in line]
