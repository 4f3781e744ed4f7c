"""The FulfilmentQueue consumer: §12 to the sandbox, partial batch failures, and the DLQ after maxReceiveCount."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pay1st_partner import runtime

from tests.functions.outbound import SKU, call, create, create_body, successful_payment

FULFILMENT_ROUTE = "POST /api/pay1st/payments/fulfilments"


def _fulfil(http_event, lambda_context, partner_reference):
    from functions.fulfilment import app

    body = {"products": [{"sku": SKU, "quantity": 1, "fulfilmentTime": "2026-01-15T10:35:00Z"}]}
    event = http_event(
        "POST",
        f"/payments/{partner_reference}/fulfilment",
        body=body,
        path_params={"partnerReference": partner_reference},
    )
    assert call(app.lambda_handler, event, lambda_context).status == 202


def _sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes") or {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:FulfilmentQueue",
                "awsRegion": "eu-west-1",
            }
            for m in messages
        ]
    }


def _poll_once(aws, lambda_context) -> tuple[dict[str, Any], int]:
    """One event source mapping round: receive, invoke, delete what succeeded. Returns (response, received)."""
    from functions.fulfilment_sender import app

    messages = aws.sqs.receive_message(
        QueueUrl=aws.fulfilment_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
    ).get("Messages", [])
    if not messages:
        return {"batchItemFailures": []}, 0
    response = app.lambda_handler(_sqs_event(messages), lambda_context)
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            aws.sqs.delete_message(QueueUrl=aws.fulfilment_queue_url, ReceiptHandle=message["ReceiptHandle"])
    return response, len(messages)


def test_delivers_the_recorded_fulfilment_to_the_gateway(aws, sandbox, lambda_context, http_event, capsys):
    # Given a paid payment whose fulfilment is queued
    created = successful_payment(http_event, lambda_context, sandbox, "order-s1")
    _fulfil(http_event, lambda_context, "order-s1")

    # When the sender consumes the queue
    response, received = _poll_once(aws, lambda_context)

    # Then the gateway has the signed §12 notice and the payment notes the delivery
    assert received == 1
    assert response == {"batchItemFailures": []}
    delivered = sandbox.control.fulfilments()
    assert len(delivered) == 1
    text = json.dumps(delivered, default=str)
    assert created.body["reference"] in text
    assert SKU in text
    assert runtime.payments().get("order-s1").fulfilment["deliveredAt"]
    assert '"FulfilmentsDelivered":[1.0]' in capsys.readouterr().out


def test_a_duplicate_message_does_not_notify_twice(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-s2")
    _fulfil(http_event, lambda_context, "order-s2")
    _fulfil(http_event, lambda_context, "order-s2")  # a retried request queues a second message

    for _ in range(3):
        _poll_once(aws, lambda_context)

    assert int(sandbox.control.counters().get(FULFILMENT_ROUTE, 0)) == 1


def test_a_failure_is_reported_for_that_message_only(aws, sandbox, lambda_context, http_event, capsys):
    # Given one good message and one that names no fulfilment
    successful_payment(http_event, lambda_context, sandbox, "order-s3")
    _fulfil(http_event, lambda_context, "order-s3")
    aws.sqs.send_message(QueueUrl=aws.fulfilment_queue_url, MessageBody='{"partnerReference": "nobody"}')
    aws.sqs.send_message(QueueUrl=aws.fulfilment_queue_url, MessageBody="not json")

    response, received = _poll_once(aws, lambda_context)

    assert received == 3
    assert len(response["batchItemFailures"]) == 2
    assert runtime.payments().get("order-s3").fulfilment["deliveredAt"]


def test_a_gateway_failure_is_retried_then_dead_lettered(aws, sandbox, lambda_context, http_event, capsys):
    # Given a queued fulfilment and a gateway that keeps failing it
    successful_payment(http_event, lambda_context, sandbox, "order-s4")
    _fulfil(http_event, lambda_context, "order-s4")
    sandbox.control.set_faults(rate_5xx={FULFILMENT_ROUTE: 1.0})

    # When the queue is polled until the message leaves it (after the queue's own maxReceiveCount)
    redrive = aws.sqs.get_queue_attributes(
        QueueUrl=aws.fulfilment_queue_url, AttributeNames=["RedrivePolicy"]
    )
    max_receive_count = int(json.loads(redrive["Attributes"]["RedrivePolicy"])["maxReceiveCount"])
    failures = 0
    for _ in range(max_receive_count + 3):
        response, received = _poll_once(aws, lambda_context)
        if not received:
            break
        failures += len(response["batchItemFailures"])

    # Then each attempt failed, the payment is not marked delivered, and the message sits in the DLQ
    assert failures == max_receive_count
    assert "deliveredAt" not in runtime.payments().get("order-s4").fulfilment
    dead = aws.queue_messages(aws.fulfilment_dlq_url)
    assert [json.loads(m["Body"]) for m in dead] == [{"partnerReference": "order-s4"}]
    assert '"FulfilmentsFailed":[1.0]' in capsys.readouterr().out


def test_the_gateway_coming_back_delivers_on_the_next_attempt(aws, sandbox, lambda_context, http_event):
    successful_payment(http_event, lambda_context, sandbox, "order-s5")
    _fulfil(http_event, lambda_context, "order-s5")
    sandbox.control.set_faults(rate_5xx={FULFILMENT_ROUTE: 1.0})
    first, _ = _poll_once(aws, lambda_context)
    assert len(first["batchItemFailures"]) == 1

    sandbox.control.clear_faults()
    second, _ = _poll_once(aws, lambda_context)

    assert second == {"batchItemFailures": []}
    assert runtime.payments().get("order-s5").fulfilment["deliveredAt"]


def test_the_delivering_attempt_is_kept_with_the_failures_before_it(aws, sandbox, lambda_context, http_event):
    # Given a queued fulfilment that the gateway refuses twice, then accepts
    successful_payment(http_event, lambda_context, sandbox, "order-s6")
    _fulfil(http_event, lambda_context, "order-s6")
    sandbox.control.set_faults(rate_5xx={FULFILMENT_ROUTE: 1.0})
    for _ in range(2):
        assert len(_poll_once(aws, lambda_context)[0]["batchItemFailures"]) == 1
    assert "attempts" not in runtime.payments().get("order-s6").fulfilment  # a failure writes nothing
    sandbox.control.clear_faults()
    assert _poll_once(aws, lambda_context)[0] == {"batchItemFailures": []}
    # Then the delivery write kept the attempt: the third receive of the message, first received earlier
    fulfilment = runtime.payments().get("order-s6").fulfilment
    [attempt] = fulfilment["attempts"]
    assert attempt["outcome"] == "delivered" and int(attempt["attempt"]) == 3
    assert attempt["at"] == fulfilment["deliveredAt"] and attempt["firstAttemptAt"] <= attempt["at"]
    # And a duplicate message afterwards sends nothing and keeps nothing more
    sent = int(sandbox.control.counters().get(FULFILMENT_ROUTE, 0))
    aws.sqs.send_message(QueueUrl=aws.fulfilment_queue_url, MessageBody='{"partnerReference":"order-s6"}')
    _poll_once(aws, lambda_context)
    assert len(runtime.payments().get("order-s6").fulfilment["attempts"]) == 1
    assert int(sandbox.control.counters().get(FULFILMENT_ROUTE, 0)) == sent


def _with_dead_letter_queue(aws, monkeypatch):
    """The sender's own environment (template.yaml gives only it the DLQ's URL)."""
    from tests.conftest import _reset_runtime

    monkeypatch.setenv("FULFILMENT_DEAD_LETTER_QUEUE_URL", aws.fulfilment_dlq_url)
    _reset_runtime()


UNDELIVERABLE = "fulfilment undeliverable: retrying cannot deliver it"


def _logged(caplog, message: str) -> list[dict[str, Any]]:
    return [dict(vars(r), level=r.levelname) for r in caplog.records if r.getMessage() == message]


def test_a_notice_pay1st_refuses_with_a_4xx_is_logged_counted_and_dead_lettered_at_once(
    aws, sandbox, lambda_context, http_event, capsys, caplog, monkeypatch
):
    """Given a fulfilment queued for a payment we hold SUCCESSFUL that Pay1st does not (it answers 400
    PAYMENT_NOT_SUCCESSFUL, and will for every retry), when the sender receives it once, then it is in the DLQ
    now (not after maxReceiveCount receives, ~72 minutes), with Pay1st's reason logged and counted."""
    _with_dead_letter_queue(aws, monkeypatch)
    created = create(http_event, lambda_context, create_body("order-s7"))  # never paid at the sandbox
    runtime.payments().apply_status(
        "order-s7", "SUCCESSFUL", source="test", reference=created.body["reference"]
    )
    _fulfil(http_event, lambda_context, "order-s7")

    response, received = _poll_once(aws, lambda_context)

    # Then the message left the queue on its first receive, for the DLQ, with the reason
    assert received == 1 and response == {"batchItemFailures": []}
    assert _poll_once(aws, lambda_context)[1] == 0
    [dead] = aws.sqs.receive_message(
        QueueUrl=aws.fulfilment_dlq_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert json.loads(dead["Body"]) == {"partnerReference": "order-s7"}
    reason = dead["MessageAttributes"]["undeliverableReason"]["StringValue"]
    assert "HTTP 400" in reason and "PAYMENT_NOT_SUCCESSFUL" in reason
    # And Pay1st was asked once; the payment is not marked delivered
    assert int(sandbox.control.counters().get(FULFILMENT_ROUTE, 0)) == 1
    assert "deliveredAt" not in runtime.payments().get("order-s7").fulfilment
    # And the log line has Pay1st's reason and sessionId; the metrics count it
    out = capsys.readouterr().out
    [line] = _logged(caplog, UNDELIVERABLE)
    assert line["level"] == "ERROR" and line["partnerReference"] == "order-s7"
    assert (line["status"], line["error_code"]) == (400, "PAYMENT_NOT_SUCCESSFUL")
    assert line["error_message"] and line["session_id"]
    assert '"FulfilmentsUndeliverable":[1.0]' in out and '"FulfilmentsFailed":[1.0]' in out


def test_a_message_naming_no_fulfilment_is_dead_lettered_at_once(aws, lambda_context, caplog, monkeypatch):
    # Given two messages no retry can deliver: one names no recorded fulfilment, one is not JSON
    _with_dead_letter_queue(aws, monkeypatch)
    aws.sqs.send_message(QueueUrl=aws.fulfilment_queue_url, MessageBody='{"partnerReference": "nobody"}')
    aws.sqs.send_message(QueueUrl=aws.fulfilment_queue_url, MessageBody="not json")
    # When the sender receives them
    response, received = _poll_once(aws, lambda_context)
    # Then both are in the DLQ now, each logged with its reason
    assert received == 2 and response == {"batchItemFailures": []}
    dead = aws.queue_messages(aws.fulfilment_dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(['{"partnerReference": "nobody"}', "not json"])
    reasons = [line["reason"] for line in _logged(caplog, UNDELIVERABLE)]
    assert sorted(reasons) == ["message body is not JSON", "no recorded fulfilment for payment 'nobody'"]


def test_a_gateway_outage_is_still_retried_not_dead_lettered(
    aws, sandbox, lambda_context, http_event, monkeypatch
):
    # Given a queued fulfilment and Pay1st failing with 5xx (a retry may succeed)
    _with_dead_letter_queue(aws, monkeypatch)
    successful_payment(http_event, lambda_context, sandbox, "order-s8")
    _fulfil(http_event, lambda_context, "order-s8")
    sandbox.control.set_faults(rate_5xx={FULFILMENT_ROUTE: 1.0})
    # When the sender receives it
    response, _ = _poll_once(aws, lambda_context)
    # Then it fails for SQS to retry, and the DLQ stays empty
    assert len(response["batchItemFailures"]) == 1
    assert aws.queue_messages(aws.fulfilment_dlq_url) == []
