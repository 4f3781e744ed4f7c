"""``python -m pay1st_ops --local URL ...`` against a running local stack: the real functions on moto, the
Pay1st sandbox as the gateway, the operator's commands over the same resources a deployed stack has."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from local_stack.partner import partner_client
from local_stack.stack import LocalStack
from pay1st_ops.__main__ import main
from pay1st_partner_client import PartnerClient, Product

from tests.local.local_kit import running_stack

QUERY_INTERVAL = 1.0
STATUS_ROUTE = "GET /api/pay1st/payments"
FULFILMENT_ROUTE = "POST /api/pay1st/payments/fulfilments"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The bundle's template; one status query per payment per second (not 15 s), so a replay may query."""
    env_vars = {"Parameters": {"STATUS_QUERY_MIN_INTERVAL_SECONDS": str(QUERY_INTERVAL)}}
    with running_stack(tmp_path_factory, "ops", env_vars=env_vars) as running:
        yield running


@pytest.fixture(scope="module")
def partner(stack: LocalStack) -> PartnerClient:
    return partner_client(stack)


def ops(stack: LocalStack, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--local", stack.api_url, "--query-interval", str(QUERY_INTERVAL), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def ops_json(stack: LocalStack, *args: str) -> Any:
    code, out, err = ops(stack, "--json", *args)
    assert code == 0, err
    return json.loads(out)


def create(partner: PartnerClient, name: str) -> tuple[str, str]:
    reference = f"ops-{name}-{uuid.uuid4().hex[:8]}"
    created = partner.create_payment(
        reference,
        amount="250.50",
        currency_code="ZAR",
        country_code="ZA",
        products=[Product("500 Gems", "GEM-500", "250.50", 1)],
    )
    return reference, str(created.reference)


def pay(stack: LocalStack, pay1st: str) -> None:
    assert stack.sandbox is not None
    stack.sandbox.control.settle(pay1st, "pay")
    stack.sandbox.control.flush_webhooks(timeout=15)


def events_of(stack: LocalStack, reference: str) -> list[str]:
    return [
        event["detail"]["eventId"]
        for event in stack.published_events()
        if event["detail"].get("partnerReference") == reference
    ]


def test_find_and_show_a_paid_payment(stack: LocalStack, partner: PartnerClient) -> None:
    # Given a payment the customer paid, whose webhook the stack received and applied
    reference, pay1st = create(partner, "paid")
    pay(stack, pay1st)
    # When the operator finds it by either reference, and by status and age
    assert [row["status"] for row in ops_json(stack, "find", reference)] == ["SUCCESSFUL"]
    assert [row["partnerReference"] for row in ops_json(stack, "find", "--reference", pay1st)] == [reference]
    recent = ops_json(stack, "find", "--status", "successful", "--newer-than", "1", "--limit", "500")
    assert reference in [row["partnerReference"] for row in recent]
    assert reference not in [
        row["partnerReference"] for row in ops_json(stack, "find", "--status", "PENDING")
    ]
    # Then show tells the story in time order: create, the signed webhook and its outcome, the event
    code, text, _ = ops(stack, "show", reference)
    assert code == 0
    lines = text.splitlines()
    assert "status: SUCCESSFUL" in lines and "fulfilment: none" in lines
    kinds = [line.split()[1] for line in lines if line[:2] == "20"]
    assert kinds[0] == "created" and "webhook" in kinds and "event" in kinds
    assert any("webhook SUCCESSFUL (signing-key) -> applied" in line for line in lines)
    assert any(f"event Payment Succeeded [published] id {reference}:SUCCESSFUL" in line for line in lines)
    story = ops_json(stack, "show", reference)["story"]
    assert [entry["at"] for entry in story] == sorted(entry["at"] for entry in story)
    # And an unknown payment is an error, not an empty story
    assert ops(stack, "show", "ops-nobody")[0] == 1


def test_show_tells_refund_webhooks_status_queries_and_the_delivering_attempt(
    stack: LocalStack, partner: PartnerClient
) -> None:
    # Given a paid payment (its webhook confirmed by a status query), refunded in part, its fulfilment sent
    assert stack.sandbox is not None
    reference, pay1st = create(partner, "story")
    pay(stack, pay1st)
    partner.refund(reference, f"{reference}-r1", amount="10.00")
    # Settled now, not by the sandbox's timer (2 s), which a fast run would not wait for.
    stack.sandbox.control.settle_refund(f"{reference}-r1", "SUCCESSFUL")
    stack.sandbox.control.flush_webhooks(timeout=15)
    partner.report_fulfilment(reference, [{"sku": "GEM-500", "quantity": 1}])
    assert stack.poll_queue("FulfilmentSenderFunction").failed == 0
    # When the operator reads its story
    code, text, err = ops(stack, "show", reference)
    assert code == 0, err
    # Then it has the webhook's status query, each refund webhook with its outcome, the delivering attempt
    assert "status query by webhook: Pay1st said SUCCESSFUL -> applied" in text
    refund_hooks = [line for line in text.splitlines() if f"refund webhook {reference}-r1 " in line]
    assert refund_hooks and all("(verified) -> applied" in line for line in refund_hooks)
    assert any(f"refund webhook {reference}-r1 SUCCESSFUL" in line for line in refund_hooks)
    assert "fulfilment attempt 1: delivered" in text
    # And every webhook line ends with its eventId, what replay-webhook asks for (text, not only --json)
    hooks = ops_json(stack, "show", reference)["webhooks"]
    hook_lines = [line for line in text.splitlines() if ", eventId " in line]
    assert len(hook_lines) == len(hooks) >= 2
    assert sorted(line.rsplit("eventId ", 1)[1] for line in hook_lines) == sorted(h["eventId"] for h in hooks)
    # And the JSON story holds the same, in time order
    story = ops_json(stack, "show", reference)["story"]
    assert [entry["at"] for entry in story] == sorted(entry["at"] for entry in story)
    kinds = [entry["what"] for entry in story]
    assert kinds.index("query") < kinds.index("event") and "refund" in kinds
    [attempt] = [entry for entry in story if entry["text"].startswith("fulfilment attempt")]
    assert attempt["data"]["outcome"] == "delivered" and attempt["data"]["attempt"] == 1


def test_changing_commands_need_yes(stack: LocalStack, partner: PartnerClient) -> None:
    reference, _ = create(partner, "unconfirmed")
    code, _, err = ops(stack, "reconcile", reference)  # stdin is not a terminal under pytest
    assert code == 1 and "add --yes" in err
    assert "audit" not in [entry["what"] for entry in ops_json(stack, "show", reference)["story"]]
    assert ops(stack, "reconcile", reference, "--yes")[0] == 0  # the same command, confirmed, is audited
    assert "audit" in [entry["what"] for entry in ops_json(stack, "show", reference)["story"]]


def test_reconcile_applies_what_pay1st_says_and_is_audited(stack: LocalStack, partner: PartnerClient) -> None:
    # Given a paid payment whose webhook was lost
    assert stack.sandbox is not None
    reference, pay1st = create(partner, "lost")
    stack.sandbox.control.set_faults(webhook_drop_rate=1.0)
    try:
        pay(stack, pay1st)
    finally:
        stack.sandbox.control.clear_faults()
    assert [row["status"] for row in ops_json(stack, "find", reference)] == ["NEW"]
    # When the operator reconciles it
    code, text, err = ops(stack, "reconcile", reference, "--yes")
    # Then Pay1st's answer is applied as the poller would, its event published, and the act audited
    assert code == 0, err
    assert f"{reference}: NEW -> SUCCESSFUL: Pay1st says SUCCESSFUL, applied" in text
    assert events_of(stack, reference) == [f"{reference}:SUCCESSFUL"]
    code, shown, _ = ops(stack, "show", reference)
    assert "status SUCCESSFUL (by operator)" in shown
    assert "operator arn:aws:" in shown
    assert "reconcile NEW -> SUCCESSFUL: Pay1st says SUCCESSFUL, applied (outcome applied)" in shown
    assert "status query by operator: Pay1st said SUCCESSFUL -> applied" in shown


def test_reconcile_says_what_happened_when_nothing_changed_or_pay1st_was_not_asked(
    stack: LocalStack, partner: PartnerClient
) -> None:
    # Given a paid payment, just confirmed by its webhook's status query
    reference, pay1st = create(partner, "again")
    pay(stack, pay1st)
    # When the operator reconciles within the query interval (the slot is taken: Pay1st is not asked)
    code, text, err = ops(stack, "reconcile", reference, "--yes")
    # Then it says Pay1st was not asked, not "Pay1st said None"
    assert code == 0, err
    assert (
        f"{reference}: not asked: this payment's status was queried less than the query interval ago" in text
    )
    assert "None" not in text
    # When it reconciles once the interval passed
    time.sleep(QUERY_INTERVAL + 0.1)
    code, text, err = ops(stack, "reconcile", reference, "--yes")
    # Then it says nothing changed and why, not "duplicate"
    assert code == 0, err
    assert text == f"{reference}: no change: Pay1st says SUCCESSFUL, as recorded\n"
    assert "reconcile no change: Pay1st says SUCCESSFUL, as recorded" in ops(stack, "show", reference)[1]


def test_local_without_a_url_before_the_command_is_the_default_local_stack(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the local stack where `--local` looks by default (make serve's port, here the test stack's)
    import pay1st_ops.__main__ as cli

    monkeypatch.setattr(cli, "DEFAULT_LOCAL_URL", stack.api_url)
    # When the operator runs `make ops ARGS="--local report"` (the old parser took "report" for the URL)
    out, err = io.StringIO(), io.StringIO()
    code = main(["--local", "report"], out=out, err=err)
    # Then the report ran against that stack
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith("report at ")
    # And a URL after --local is still the URL
    args = cli.parse_args(["--local", "http://127.0.0.1:4000", "--json", "find", "--open"])
    assert (args.local, args.command, args.json) == ("http://127.0.0.1:4000", "find", True)


def test_a_replayed_webhook_finishes_what_failed_and_changes_nothing_the_second_time(
    stack: LocalStack, partner: PartnerClient
) -> None:
    # Given a paid payment whose webhook arrived while Pay1st's status query failed (not confirmed, still NEW)
    assert stack.sandbox is not None
    reference, pay1st = create(partner, "replay")
    stack.sandbox.control.set_faults(rate_5xx={STATUS_ROUTE: 1.0})
    try:
        pay(stack, pay1st)
    finally:
        stack.sandbox.control.clear_faults()
    shown = ops_json(stack, "show", reference)
    [hook] = shown["webhooks"]
    assert hook["outcome"] == "confirmation_owed" and shown["payment"]["status"] == "NEW"
    [failed] = [entry for entry in shown["story"] if entry["what"] == "query"]
    assert failed["data"]["by"] == "webhook" and failed["data"]["outcome"] == "gateway_unavailable"
    assert failed["data"]["httpStatus"] >= 500 and failed["text"].startswith(
        "status query by webhook: failed: "
    )
    time.sleep(QUERY_INTERVAL)
    # When the operator replays the stored webhook
    code, text, err = ops(stack, "replay-webhook", hook["eventId"], "--yes")
    # Then the intake confirms it now and the payment is paid, once
    assert code == 0, err
    assert f"webhook {hook['eventId']}: confirmation_owed -> applied (payment {reference})" in text
    assert ops_json(stack, "find", reference)[0]["status"] == "SUCCESSFUL"
    assert events_of(stack, reference) == [f"{reference}:SUCCESSFUL"]
    # And a second replay changes nothing: answered from the record, no new event
    code, text, _ = ops(stack, "replay-webhook", hook["eventId"], "--yes")
    assert code == 0 and "applied -> duplicate" in text
    assert events_of(stack, reference) == [f"{reference}:SUCCESSFUL"]
    [hook] = ops_json(stack, "show", reference)["webhooks"]
    assert hook["replayCount"] == 2 and hook["lastReplayedBy"].startswith("arn:aws:")
    # And a rejected or unknown event cannot be replayed
    assert ops(stack, "replay-webhook", "rejected#00", "--yes")[0] == 1
    assert ops(stack, "replay-webhook", "0" * 64, "--yes")[0] == 1


def test_republish_sends_the_events_again_with_their_original_ids(
    stack: LocalStack, partner: PartnerClient
) -> None:
    reference, pay1st = create(partner, "republish")
    pay(stack, pay1st)
    assert events_of(stack, reference) == [f"{reference}:SUCCESSFUL"]
    code, text, err = ops(stack, "republish", reference, "--yes")
    assert code == 0, err
    assert text == f"published {reference}:SUCCESSFUL\n"
    published = [e for e in stack.published_events() if e["detail"].get("partnerReference") == reference]
    assert [e["detail"]["eventId"] for e in published] == [f"{reference}:SUCCESSFUL"] * 2
    assert published[0]["detail"] == published[1]["detail"]  # the same event, rebuilt from the history
    assert ops(stack, "republish", reference, "--event-id", f"{reference}:FAILED", "--yes")[0] == 1


def test_report_and_redrive_a_dead_lettered_fulfilment(stack: LocalStack, partner: PartnerClient) -> None:
    # Given a paid payment whose fulfilment notice Pay1st refused until it was dead-lettered
    assert stack.sandbox is not None
    reference, pay1st = create(partner, "redrive")
    pay(stack, pay1st)
    partner.report_fulfilment(reference, [{"sku": "GEM-500", "quantity": 1}])
    sqs = stack.client("sqs")
    queue = stack.provisioned.refs["FulfilmentQueue"]
    dlq_arn = stack.provisioned.attributes[("FulfilmentDeadLetterQueue", "Arn")]
    sqs.set_queue_attributes(
        QueueUrl=queue,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
        },
    )
    stack.sandbox.control.set_faults(rate_5xx={FULFILMENT_ROUTE: 1.0})
    try:
        assert stack.poll_queue("FulfilmentSenderFunction").failed == 1
        stack.poll_queue("FulfilmentSenderFunction")  # past maxReceiveCount: moved to the DLQ
    finally:
        stack.sandbox.control.clear_faults()
    # When the operator reads the report
    data = ops_json(stack, "report", "--fulfilment-hours", "0", "--pending-hours", "0")
    # Then it names the payment paid but not fulfilled, and the dead letter
    assert reference in [row["partnerReference"] for row in data["paidNotFulfilled"]["payments"]]
    assert data["fulfilmentDeadLetters"] == 1 and data["countsByStatus"]["SUCCESSFUL"] >= 1
    assert data["limits"]
    # When the operator redrives the DLQ
    code, text, err = ops(stack, "redrive-fulfilments", "--yes")
    assert code == 0, err
    assert text == f"moved 1 message(s) to the fulfilment queue: {reference}\n"
    # Then the sender delivers it, and show tells it all, with the audit record
    assert stack.poll_queue("FulfilmentSenderFunction").failed == 0
    code, shown, _ = ops(stack, "show", reference)
    assert "fulfilment: DELIVERED" in shown and "fulfilment delivered to Pay1st" in shown
    assert "redrive-fulfilments fulfilment moved from the DLQ to its queue" in shown
    assert "to its queue after about 1 failed delivery attempt(s) since 20" in shown  # the poll that failed
    assert (
        ops(stack, "redrive-fulfilments", "--yes")[1] == "the fulfilment DLQ is empty: nothing to redrive\n"
    )


def test_report_counts_rejected_webhooks_by_reason(stack: LocalStack) -> None:
    import urllib3

    http = urllib3.PoolManager()
    for n in range(2):
        answer = http.request(
            "POST",
            f"{stack.api_url}/webhooks/pay1st",
            body=json.dumps({"forged": n}).encode(),
            headers={"Content-Type": "application/json", "X-SIGNATURE": "00" * 32, "X-TIMESTAMP": "1"},
        )
        assert answer.status == 401
    rejected = ops_json(stack, "report")["webhooksRejectedLastDay"]
    assert sum(rejected.values()) >= 2 and set(rejected) <= {"invalid_signature", "stale_timestamp"}


def test_report_lists_payments_the_poller_gave_up_on(stack: LocalStack, partner: PartnerClient) -> None:
    from pay1st_ops.target import local_target
    from pay1st_ops.wiring import Services

    # Given an open payment the poller gave up on (still open at the give-up age), and one it still checks
    reference, _ = create(partner, "gave-up")
    checked, _ = create(partner, "still-checked")
    services = Services(local_target(stack.api_url))
    assert services.payments.give_up(reference) is not None
    # When the operator asks for the report, and for the open payments
    gave_up = ops_json(stack, "report")["reconcileGaveUp"]
    # Then the given-up one is listed, with when, and the other is not; both are still open payments
    [ours] = [row for row in gave_up if row["partnerReference"] == reference]
    assert (
        ours["status"] == "NEW"
        and ours["gaveUpAt"]
        and checked not in [r["partnerReference"] for r in gave_up]
    )
    assert checked in [row["partnerReference"] for row in ops_json(stack, "find", "--open", "--limit", "500")]
