"""GET /payments/{partnerReference}: the real handler on moto, refreshed from the Pay1st sandbox when stale."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from pay1st_partner import runtime

from tests.functions.inbound import STATUS_QUERY_ROUTE, call, create_at_sandbox, route_count


def get(http_event: Callable[..., dict[str, Any]], partner_reference: str) -> Any:
    from functions.payment_status import app

    event = http_event(
        "GET",
        f"/payments/{partner_reference}",
        path_params={"partnerReference": partner_reference},
        route_key="GET /payments/{partnerReference}",
    )
    return call(app.lambda_handler, event)


@pytest.fixture
def stale_after_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATUS_STALE_SECONDS", "0.05")
    runtime.reset()


def test_a_fresh_payment_is_answered_from_the_table(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    # Given a payment just created
    record = create_at_sandbox("order-1")
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    # When its status is read
    result = get(http_event, "order-1")
    # Then it comes from DynamoDB without asking the gateway
    assert result.status == 200
    assert result.body["partnerReference"] == "order-1"
    assert result.body["reference"] == record.reference
    assert result.body["status"] == "NEW"
    assert result.body["amount"] == "250.50"
    assert (result.body["currencyCode"], result.body["countryCode"]) == ("ZAR", "ZA")
    assert result.headers["Content-Type"] == "application/json"
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries


def test_an_open_stale_payment_is_refreshed_from_the_gateway(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], stale_after_a_moment: None
) -> None:
    # Given a payment paid at the gateway whose webhook never reached us
    record = create_at_sandbox("order-2")
    sandbox.control.set_faults(webhook_drop_rate=1.0)
    sandbox.control.settle(record.reference, "pay")
    time.sleep(0.1)
    # When its status is read after it went stale
    result = get(http_event, "order-2")
    # Then the gateway was asked, the payment is SUCCESSFUL and the event went out
    assert result.status == 200 and result.body["status"] == "SUCCESSFUL"
    assert [e["detail-type"] for e in aws.published_events()] == ["Payment Succeeded"]
    # And a final payment is never queried again
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    time.sleep(0.1)
    assert get(http_event, "order-2").body["status"] == "SUCCESSFUL"
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries


def test_an_unreachable_gateway_answers_the_stored_status(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], stale_after_a_moment: None
) -> None:
    create_at_sandbox("order-3")
    sandbox.control.set_faults(rate_5xx={STATUS_QUERY_ROUTE: 1.0}, server_error_status=503)
    time.sleep(0.1)
    result = get(http_event, "order-3")
    assert result.status == 200 and result.body["status"] == "NEW"
    assert result.body["lastCheckedAt"]  # the failed check is noted, so the next read does not hammer it


def test_a_throttled_query_slot_claim_answers_the_stored_status_not_a_500(
    aws: Any, sandbox: Any, http_event: Callable[..., dict[str, Any]], stale_after_a_moment: None
) -> None:
    """Given an open payment gone stale and DynamoDB throttling the claim of its status-query slot (the first
    write of a refresh), when the partner reads it, then the stored status is answered (200), the gateway is
    not asked, and the next read, DynamoDB back, refreshes it as usual.

    Found by the simulation (issue 22): the throttle's ClientError escaped the route as a 500."""
    from botocore.exceptions import ClientError

    create_at_sandbox("order-slot-throttled")
    time.sleep(0.1)
    queries = route_count(sandbox, STATUS_QUERY_ROUTE)
    client = runtime.boto3_client("dynamodb")

    def throttle(params: dict[str, Any], **_: Any) -> None:
        if str(params.get("UpdateExpression", "")).startswith("SET lastQueryAt"):  # the slot's claim only
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
            raise ClientError({"Error": error}, "UpdateItem")

    client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", throttle)
    try:
        result = get(http_event, "order-slot-throttled")
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", throttle)
    assert result.status == 200, result.body
    assert result.body["status"] == "NEW" and result.body["lastCheckedAt"] is None
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries
    again = get(http_event, "order-slot-throttled")
    assert again.status == 200 and again.body["lastCheckedAt"] is not None
    assert route_count(sandbox, STATUS_QUERY_ROUTE) == queries + 1


def test_unknown_payment_is_404(aws: Any, http_event: Callable[..., dict[str, Any]]) -> None:
    result = get(http_event, "order-unknown")
    assert result.status == 404
    assert result.body == {"code": "payment_not_found", "message": "No payment with this partnerReference."}


@pytest.mark.parametrize("reference", ["bad ref", "x" * 65, "-leading-dash", "%00"])
def test_malformed_references_are_404_not_500(
    aws: Any, http_event: Callable[..., dict[str, Any]], reference: str
) -> None:
    result = get(http_event, reference)
    assert result.status == 404 and result.body["code"] == "payment_not_found"


def test_a_dynamodb_outage_is_a_json_500_without_details(
    aws: Any, http_event: Callable[..., dict[str, Any]]
) -> None:
    aws.dynamodb.delete_table(TableName="PaymentsTable")
    result = get(http_event, "order-1")
    assert result.status == 500
    assert result.body == {"code": "internal_error", "message": "Internal error."}
