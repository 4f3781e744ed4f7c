"""POST /webhooks/pay1st: the real handler, on moto, with real signed webhooks from the Pay1st sandbox."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pay1st.signing import format_timestamp, sign
from pay1st_partner import runtime

from tests.conftest import SANDBOX_CREDENTIALS, counting_aws_calls
from tests.functions.inbound import (
    STATUS_QUERY_ROUTE,
    ApiBridge,
    api_bridge,
    call,
    create_at_sandbox,
    route_count,
)

PATH = "/webhooks/pay1st"


def handler() -> Any:
    from functions.webhook_intake import app

    return app.lambda_handler


@pytest.fixture
def bridge(aws: Any, sandbox: Any) -> Iterator[ApiBridge]:
    """The webhook route served on loopback, where the sandbox delivers its signed webhooks."""
    with api_bridge({("POST", PATH): handler()}) as running:
        yield running


def status_of(partner_reference: str) -> str:
    record = runtime.payments().get(partner_reference)
    assert record is not None
    return record.status


def event_body(record: Any, status: str = "SUCCESSFUL", **changes: Any) -> bytes:
    document = {
        "partnerId": 4242,
        "partnerCode": "SANDBOX-PARTNER",
        "partnerReference": record.partner_reference,
        "reference": record.reference,
        "orderAmount": "__AMOUNT__",
        "currencyCode": record.currency_code,
        "countryCode": record.country_code,
        "status": status,
        **changes,
    }
    return json.dumps(document).replace('"__AMOUNT__"', format(record.amount, "f")).encode()


def signed(
    body: bytes, at: datetime | None = None, key: str = SANDBOX_CREDENTIALS["signingKey"]
) -> dict[str, str]:
    timestamp = format_timestamp(at or datetime.now(UTC))
    return {"X-SIGNATURE": sign(key, timestamp, body), "X-TIMESTAMP": timestamp}


def post(http_event: Callable[..., dict[str, Any]], body: bytes | str, headers: dict[str, str]) -> Any:
    return call(handler(), http_event("POST", PATH, body=body, headers=headers))


# --------------------------------------------------------------------------- end to end with the sandbox


def test_a_paid_payment_is_confirmed_recorded_and_announced_once(
    aws: Any, sandbox: Any, bridge: ApiBridge
) -> None:
    # Given a payment created at the sandbox with our webhook URL
    record = create_at_sandbox("order-paid", webhook_url=f"{bridge.base_url}{PATH}")
    queries_before = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When the customer pays and the sandbox delivers its signed webhook
    sandbox.control.settle(record.reference, "pay")
    sandbox.control.flush_webhooks()
    # Then the webhook was accepted, confirmed with one status query, applied, recorded and announced
    [delivery] = sandbox.control.webhook_deliveries()
    body = delivery["body"].encode("utf-8")  # the exact bytes the sandbox signed and sent
    assert delivery["attempts"][-1]["statusCode"] == 200
    assert json.loads(delivery["attempts"][-1]["responseBody"])["outcome"] == "applied"
    assert status_of("order-paid") == "SUCCESSFUL"
    assert route_count(sandbox, STATUS_QUERY_ROUTE) - queries_before == 1
    [event] = aws.published_events()
    assert event["detail-type"] == "Payment Succeeded"
    assert event["detail"]["eventId"] == "order-paid:SUCCESSFUL"
    assert event["detail"]["amount"] == "250.50"
    stored = runtime.webhook_events().get(hashlib.sha256(body).hexdigest())
    assert stored is not None and bytes(stored["body"]) == body
    assert stored["outcome"] == "applied" and stored["signatureVerified"] is True


def test_duplicated_and_reordered_deliveries_emit_one_event_per_status(
    aws: Any, sandbox: Any, bridge: ApiBridge
) -> None:
    # Given a gateway that delivers every webhook twice and in reverse order
    sandbox.control.set_faults(
        webhook_duplicate_rate=1.0, webhook_reorder="reverse", webhook_reorder_window=4
    )
    record = create_at_sandbox("order-offline", webhook_url=f"{bridge.base_url}{PATH}")
    # When the customer pays offline and the payment settles later
    sandbox.control.settle(record.reference, "offline")
    sandbox.control.settle(record.reference, "settle-offline")
    sandbox.control.flush_webhooks()
    # Then every delivery was acknowledged, the payment is SUCCESSFUL, and each status was announced once
    deliveries = sandbox.control.webhook_deliveries()
    assert len(deliveries) >= 4
    assert {d["attempts"][-1]["statusCode"] for d in deliveries} == {200}
    assert status_of("order-offline") == "SUCCESSFUL"
    ids = sorted(e["detail"]["eventId"] for e in aws.published_events())
    # PENDING may be skipped when SUCCESSFUL arrives first (reordered): never announced twice, never regressed
    assert ids in (["order-offline:PENDING", "order-offline:SUCCESSFUL"], ["order-offline:SUCCESSFUL"])


@pytest.mark.parametrize(
    ("outcome", "status", "detail_type"),
    [
        ("fail", "FAILED", "Payment Failed"),
        ("cancel", "CANCELLED", "Payment Cancelled"),
        ("abandon", "ABANDONED", "Payment Abandoned"),
    ],
)
def test_unpaid_outcomes_apply_without_a_status_query(
    aws: Any, sandbox: Any, bridge: ApiBridge, outcome: str, status: str, detail_type: str
) -> None:
    record = create_at_sandbox(f"order-{outcome}", webhook_url=f"{bridge.base_url}{PATH}")
    queries_before = route_count(sandbox, STATUS_QUERY_ROUTE)
    sandbox.control.settle(record.reference, outcome)
    sandbox.control.flush_webhooks()
    assert status_of(f"order-{outcome}") == status
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries_before
    assert [e["detail-type"] for e in aws.published_events()] == [detail_type]


def test_a_webhook_reads_the_payment_once(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a payment and the runtime's DynamoDB client, with its calls counted
    record = create_at_sandbox("order-reads")
    calls: Counter[str] = Counter()

    def count_call(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    runtime.boto3_client("dynamodb").meta.events.register("before-call.dynamodb", count_call)
    # When a signed FAILED webhook is applied
    body = event_body(record, "FAILED")
    assert post(http_event, body, signed(body)).body["outcome"] == "applied"
    # Then the payment was read once: the transition decides on the intake's own read
    assert calls["GetItem"] == 1, calls


def test_a_successful_the_gateway_does_not_confirm_is_not_applied(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a payment that is still NEW at the gateway
    record = create_at_sandbox("order-forged")
    # When a correctly signed SUCCESSFUL webhook claims it was paid
    body = event_body(record, "SUCCESSFUL")
    result = post(http_event, body, signed(body))
    # Then it is acknowledged but the payment stays NEW and nothing is announced
    assert result.status == 200
    assert result.body["outcome"] == "duplicate" and result.body["status"] == "NEW"
    assert status_of("order-forged") == "NEW"
    assert aws.published_events() == []


def test_gateway_unreachable_during_confirmation_acknowledges_it_as_owed(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    record = create_at_sandbox("order-down")
    sandbox.control.settle(record.reference, "pay")
    sandbox.control.set_faults(rate_5xx={STATUS_QUERY_ROUTE: 1.0}, server_error_status=503)
    body = event_body(record, "SUCCESSFUL")
    result = post(http_event, body, signed(body))
    assert result.status == 200
    assert result.body == {
        "received": True,
        "matched": True,
        "outcome": "confirmation_owed",
        "status": "NEW",
    }
    assert status_of("order-down") == "NEW"


def test_unknown_statuses_are_recorded_and_never_paid(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    record = create_at_sandbox("order-refund")
    body = event_body(record, "REFUND")
    result = post(http_event, body, signed(body))
    assert result.status == 200 and result.body["outcome"] == "unknown_status"
    stored = runtime.payments().get("order-refund")
    assert stored is not None and stored.status == "NEW" and stored.last_unknown_status == "REFUND"


def test_a_payment_that_is_not_ours_is_acknowledged(
    aws: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    body = json.dumps(
        {
            "partnerReference": "not-ours",
            "reference": "C-1-P",
            "orderAmount": 10,
            "currencyCode": "ZAR",
            "countryCode": "ZA",
            "status": "SUCCESSFUL",
        }
    ).encode()
    result = post(http_event, body, signed(body))
    assert result.status == 200 and result.body == {
        "received": True,
        "matched": False,
        "outcome": "unmatched",
    }


def test_an_amount_mismatch_is_recorded_not_applied(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    record = create_at_sandbox("order-mismatch")
    sandbox.control.settle(record.reference, "pay")
    body = event_body(record, "SUCCESSFUL", orderAmount=1)
    result = post(http_event, body, signed(body))
    assert result.status == 200 and result.body["outcome"] == "amount_mismatch"
    assert status_of("order-mismatch") == "NEW"


def test_a_base64_encoded_body_is_verified_on_its_exact_bytes(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    record = create_at_sandbox("order-b64")
    body = event_body(record, "PENDING")
    event = http_event("POST", PATH, body=body, headers=signed(body))  # bytes → isBase64Encoded
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == body
    result = call(handler(), event)
    assert result.status == 200 and result.body["status"] == "PENDING"


# --------------------------------------------------------------------------- rejections: 4xx / 5xx, never 500


def test_missing_signature_is_401(aws: Any, http_event: Callable[..., dict[str, Any]]) -> None:
    result = post(http_event, b'{"status":"SUCCESSFUL"}', {})
    assert result.status == 401 and result.body["code"] == "missing_signature" and result.body["message"]


def test_bad_signature_is_401(aws: Any, http_event: Callable[..., dict[str, Any]]) -> None:
    body = b'{"status":"SUCCESSFUL"}'
    result = post(http_event, body, signed(body, key="sk_wrong"))
    assert result.status == 401 and result.body["code"] == "invalid_signature"


def test_a_body_changed_after_signing_is_401(aws: Any, http_event: Callable[..., dict[str, Any]]) -> None:
    body = b'{"status":"FAILED"}'
    result = post(http_event, b'{"status":"SUCCESSFUL"}', signed(body))
    assert result.status == 401 and result.body["code"] == "invalid_signature"


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_401(
    aws: Any, http_event: Callable[..., dict[str, Any]], offset: timedelta
) -> None:
    body = b'{"status":"SUCCESSFUL"}'
    result = post(http_event, body, signed(body, at=datetime.now(UTC) + offset))
    assert result.status == 401 and result.body["code"] == "stale_timestamp"


def test_oversized_body_is_413(aws: Any, http_event: Callable[..., dict[str, Any]]) -> None:
    body = b'{"pad":"' + b"x" * (64 * 1024) + b'"}'
    result = post(http_event, body.decode(), signed(body))
    assert result.status == 413 and result.body["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b'"a string"', "invalid_json"),
        (b'{"status": "SUCCESSFUL"}', "invalid_request"),  # missing fields
        (
            b'{"partnerReference": 7, "reference": "C-1-P", "orderAmount": 1, "currencyCode": "ZAR",'
            b' "countryCode": "ZA", "status": "SUCCESSFUL"}',
            "invalid_request",
        ),  # wrong type
        (
            b'{"partnerReference": "a", "reference": "C-1-P", "orderAmount": "lots", "currencyCode": "ZAR",'
            b' "countryCode": "ZA", "status": "SUCCESSFUL"}',
            "invalid_request",
        ),
    ],
)
def test_malformed_events_are_recorded_and_answered_400(
    aws: Any, http_event: Callable[..., dict[str, Any]], body: bytes, code: str
) -> None:
    result = post(http_event, body.decode(), signed(body))
    assert result.status == 400 and result.body["code"] == code and result.body["message"]
    stored = runtime.webhook_events().get(hashlib.sha256(body).hexdigest())
    assert stored is not None and stored["outcome"] in ("invalid_json", "invalid_event")


def test_a_webhook_that_cannot_be_recorded_is_503_so_the_gateway_retries(
    aws: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    aws.dynamodb.delete_table(TableName="WebhookEventsTable")
    body = b'{"status":"SUCCESSFUL"}'
    result = post(http_event, body, signed(body))
    assert result.status == 503 and result.body["code"] == "not_recorded"


def test_signature_mode_off_accepts_unsigned_events_and_applies_what_the_gateway_reports(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIGNATURE_MODE", "off")
    runtime.reset()
    # Given a payment the customer is paying offline (PENDING at the gateway)
    record = create_at_sandbox("order-unsigned")
    sandbox.control.settle(record.reference, "offline")
    queries_before = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When an unsigned PENDING event arrives
    result = post(http_event, event_body(record, "PENDING"), {})
    # Then it is accepted, confirmed with one status query, and applied
    assert result.status == 200 and result.body["status"] == "PENDING"
    assert route_count(sandbox, STATUS_QUERY_ROUTE) - queries_before == 1
    stored = runtime.webhook_events().get(hashlib.sha256(event_body(record, "PENDING")).hexdigest())
    assert stored is not None and stored["signatureVerified"] is False


def test_signature_mode_off_never_applies_an_unsigned_failure_the_gateway_does_not_report(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIGNATURE_MODE", "off")
    runtime.reset()
    # Given a payment still NEW at the gateway
    record = create_at_sandbox("order-forge")
    queries_before = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When anyone posts an unsigned FAILED for it
    forged = post(http_event, event_body(record, "FAILED"), {})
    # Then the gateway is asked, its NEW stands, and nothing is announced
    assert forged.status == 200 and forged.body["outcome"] == "duplicate" and forged.body["status"] == "NEW"
    assert route_count(sandbox, STATUS_QUERY_ROUTE) - queries_before == 1
    assert status_of("order-forge") == "NEW"
    assert aws.published_events() == []
    # And when the customer really pays, the real (signed) SUCCESSFUL still counts
    sandbox.control.settle(record.reference, "pay")
    real = event_body(record, "SUCCESSFUL")
    assert post(http_event, real, signed(real)).status == 200
    stored = runtime.payments().get("order-forge")
    assert stored is not None and stored.status == "SUCCESSFUL" and not stored.conflicts


def test_signature_mode_off_applies_an_unsigned_report_as_the_gateway_states_it(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SIGNATURE_MODE", "off")
    runtime.reset()
    # Given a payment the customer cancelled at the gateway
    record = create_at_sandbox("order-cancelled")
    sandbox.control.settle(record.reference, "cancel")
    # When an unsigned event claims something else (an unknown status)
    result = post(http_event, event_body(record, "CHARGEBACK"), {})
    # Then what the gateway reports is what is applied
    assert result.status == 200 and result.body["status"] == "CANCELLED"
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Cancelled"]


def test_a_recorded_webhook_whose_processing_fails_is_503_not_applied_and_a_retry_applies_it(
    aws: Any,
    sandbox: Any,
    http_event: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from botocore.exceptions import ClientError
    from pay1st_partner.payments.repository import PaymentRepository

    record = create_at_sandbox("order-throttled")
    body = event_body(record, "PENDING")
    apply_status = PaymentRepository.apply_status

    def throttled(*_args: Any, **_kwargs: Any) -> Any:
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
        raise ClientError({"Error": error}, "UpdateItem")

    # Given DynamoDB throttling the payment update
    monkeypatch.setattr(PaymentRepository, "apply_status", throttled)
    # When the event arrives
    result = post(http_event, body, signed(body))
    # Then it is recorded, not applied, and answered 503 so that the gateway delivers it again
    assert result.status == 503
    assert result.body["code"] == "not_applied" and "retry" in result.body["message"]
    stored = runtime.webhook_events().get(hashlib.sha256(body).hexdigest())
    assert stored is not None and stored["outcome"] == "not_applied"
    assert status_of("order-throttled") == "NEW"
    assert '"WebhookNotApplied":[1.0]' in capsys.readouterr().out
    # And the redelivery, once DynamoDB is back, applies it
    monkeypatch.setattr(PaymentRepository, "apply_status", apply_status)
    retried = post(http_event, body, signed(body))
    assert retried.status == 200 and retried.body["status"] == "PENDING" and retried.body["duplicate"]


@pytest.mark.parametrize("field", ["partnerReference", "reference", "status", "currencyCode"])
def test_a_signed_event_with_a_lone_surrogate_is_an_invalid_event_recorded_and_400(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], field: str
) -> None:
    record = create_at_sandbox("order-surrogate")
    document = json.loads(event_body(record, "PENDING"))
    document[field] = "C\ud800"  # half a UTF-16 pair: json.dumps writes it as a valid JSON escape
    body = json.dumps(document).encode()
    assert b'"C\\ud800"' in body
    result = post(http_event, body, signed(body))
    assert (
        result.status == 400 and result.body["code"] == "invalid_request" and field in result.body["message"]
    )
    stored = runtime.webhook_events().get(hashlib.sha256(body).hexdigest())
    assert stored is not None and stored["outcome"] == "invalid_event" and stored["field"] == field
    assert status_of("order-surrogate") == "NEW"


def test_metrics_and_logs_carry_no_secrets(
    aws: Any,
    sandbox: Any,
    http_event: Callable[..., dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    record = create_at_sandbox("order-logs")
    body = event_body(record, "PENDING")
    headers = signed(body)
    assert post(http_event, body, headers).status == 200
    assert post(http_event, body, signed(body, key="sk_wrong")).status == 401
    metrics = capsys.readouterr().out
    assert '"WebhookAccepted":[1.0]' in metrics
    assert '"WebhookRejected"' in metrics and '"reason":"invalid_signature"' in metrics
    assert '"StatusTransition"' in metrics
    logs = [json.dumps(r.__dict__, default=str) for r in caplog.records]
    assert any(getattr(r, "partnerReference", None) == "order-logs" for r in caplog.records)
    for text in [metrics, *logs]:
        assert headers["X-SIGNATURE"] not in text
        assert SANDBOX_CREDENTIALS["signingKey"] not in text


def test_a_signed_successful_webhook_costs_six_aws_calls(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a warm container (credentials, token and signing key cached by an earlier webhook) and a paid
    # payment, with every botocore call counted (the policy check's patch stays underneath)
    warm_up = create_at_sandbox("order-warm-up")
    warm_body = event_body(warm_up, "PENDING")
    assert post(http_event, warm_body, signed(warm_body)).status == 200
    record = create_at_sandbox("order-six-calls")
    sandbox.control.settle(record.reference, "pay")
    queries_before = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When the signed SUCCESSFUL webhook arrives
    body = event_body(record, "SUCCESSFUL")
    with counting_aws_calls(monkeypatch) as calls:
        result = post(http_event, body, signed(body))
    # Then it was recorded, confirmed by one status query under the payment's slot, applied with its
    # event, its outcome recorded, published and cleared from the outbox: in six AWS calls (README; the
    # transition and the outcome are two writes, not one transaction, which bills each of its writes twice)
    assert result.status == 200 and result.body["outcome"] == "applied", result.body
    assert route_count(sandbox, STATUS_QUERY_ROUTE) - queries_before == 1
    assert calls == [
        "dynamodb:UpdateItem WebhookEventsTable",
        "dynamodb:UpdateItem PaymentsTable",
        "dynamodb:UpdateItem PaymentsTable",
        "dynamodb:UpdateItem WebhookEventsTable",
        "events:PutEvents",
        "dynamodb:UpdateItem PaymentsTable",
    ], calls
    assert status_of("order-six-calls") == "SUCCESSFUL"
    assert runtime.payments().get("order-six-calls").pending_event_ids == ()  # type: ignore[union-attr]
    assert [e["detail"]["eventId"] for e in aws.published_events()][-1] == "order-six-calls:SUCCESSFUL"
    stored = runtime.webhook_events().get(hashlib.sha256(body).hexdigest())
    assert stored is not None and stored["outcome"] == "applied" and stored["reportedStatus"] == "SUCCESSFUL"
    assert stored["partnerReference"] == "order-six-calls"
    item = aws.dynamodb.get_item(
        TableName=aws.tables["PaymentsTable"], Key={"partnerReference": {"S": "order-six-calls"}}
    )["Item"]
    assert "lastQueryAt" in item and "outboxMarker" not in item
    # And a replay is answered from the record: writes to the webhook events table only (the record's
    # upsert, which counts it and returns the outcome, then the outcome "duplicate"), no read of the payment,
    # no gateway call; a second replay finds "duplicate" already there: the upsert alone
    with counting_aws_calls(monkeypatch) as calls:
        replay = post(http_event, body, signed(body))
    assert replay.status == 200 and replay.body["duplicate"] and replay.body["outcome"] == "duplicate"
    assert route_count(sandbox, STATUS_QUERY_ROUTE) - queries_before == 1
    assert calls == ["dynamodb:UpdateItem WebhookEventsTable", "dynamodb:UpdateItem WebhookEventsTable"], (
        calls
    )
    with counting_aws_calls(monkeypatch) as calls:
        again = post(http_event, body, signed(body))
    assert again.status == 200 and again.body["outcome"] == "duplicate"
    assert calls == ["dynamodb:UpdateItem WebhookEventsTable"], calls
    stored = runtime.webhook_events().get(hashlib.sha256(body).hexdigest())
    assert stored is not None and stored["receivedCount"] == 3 and stored["reportedStatus"] == "SUCCESSFUL"
