"""GET /callbacks/{outcome}: a 302 to the configured result page only, with OUR recorded status."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pay1st_partner import runtime

from tests.conftest import RESULT_PAGE_URL
from tests.functions.outbound import call, create, create_body


def _callback(http_event, lambda_context, outcome, query=None):
    from functions.callback_redirect import app

    event = http_event("GET", f"/callbacks/{outcome}", query=query, path_params={"outcome": outcome})
    return call(app.lambda_handler, event, lambda_context)


def _target(result):
    assert result.status == 302
    location = urlsplit(result.headers["Location"])
    page = urlsplit(RESULT_PAGE_URL)
    # never an open redirect: scheme, host and path are always the configured page's
    assert (location.scheme, location.netloc, location.path) == (page.scheme, page.netloc, page.path)
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def test_redirects_to_the_result_page_with_our_recorded_status(aws, sandbox, lambda_context, http_event):
    # Given a NEW payment (the customer has not paid)
    assert create(http_event, lambda_context, create_body("order-cb")).status == 201

    # When the browser arrives on the success callback
    result = _callback(http_event, lambda_context, "success", {"partnerReference": "order-cb"})

    # Then the result page hears our status (NEW), not the claimed outcome, and nothing changed
    assert _target(result) == {"partnerReference": "order-cb", "status": "NEW", "outcome": "success"}
    assert result.headers["Cache-Control"] == "no-store"
    assert runtime.payments().get("order-cb").status == "NEW"


def test_reports_the_final_status_once_recorded(aws, sandbox, lambda_context, http_event):
    created = create(http_event, lambda_context, create_body("order-cb2"))
    runtime.payments().apply_status("order-cb2", "FAILED", source="test", reference=created.body["reference"])

    result = _callback(http_event, lambda_context, "success", {"partnerReference": "order-cb2"})

    assert _target(result)["status"] == "FAILED"


@pytest.mark.parametrize("outcome", ["success", "failure", "pending", "cancel"])
def test_an_unknown_reference_lands_on_the_result_page_with_an_error(
    aws, lambda_context, http_event, outcome
):
    result = _callback(http_event, lambda_context, outcome, {"partnerReference": "nobody"})
    assert _target(result) == {"error": "unknown_payment", "outcome": outcome}


@pytest.mark.parametrize(
    "query",
    [None, {"partnerReference": ""}, {"partnerReference": "a/b"}, {"partnerReference": "x" * 500}],
    ids=["missing", "empty", "invalid", "oversized"],
)
def test_a_missing_or_invalid_reference_is_an_error_on_the_result_page(
    aws, lambda_context, http_event, query
):
    assert _target(_callback(http_event, lambda_context, "success", query))["error"] == "unknown_payment"


def test_an_unknown_outcome_is_an_error_on_the_result_page(aws, lambda_context, http_event):
    assert _target(_callback(http_event, lambda_context, "refund", {"partnerReference": "x"})) == {
        "error": "invalid_outcome"
    }


@pytest.mark.parametrize(
    "query",
    [
        {"partnerReference": "order-x", "redirect": "https://evil.example"},
        {"partnerReference": "order-x", "status": "SUCCESSFUL", "next": "//evil.example/"},
        {"partnerReference": "https://evil.example/"},
    ],
)
def test_no_query_parameter_can_change_the_target(aws, lambda_context, http_event, query):
    target = _target(_callback(http_event, lambda_context, "success", query))
    assert "SUCCESSFUL" not in target.values()
    assert "evil" not in str(target)


def test_the_result_pages_own_query_is_kept(aws, lambda_context, http_event, monkeypatch):
    monkeypatch.setenv("RESULT_PAGE_URL", "https://shop.example.com/done?lang=fr&status=forged")
    runtime.reset()
    from functions.callback_redirect import app

    event = http_event("GET", "/callbacks/cancel", query={"partnerReference": "nobody"})
    location = urlsplit(app.lambda_handler(event, lambda_context)["headers"]["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "shop.example.com"
    assert query["lang"] == ["fr"]
    assert query["error"] == ["unknown_payment"]


def test_a_table_failure_still_lands_on_the_result_page(aws, lambda_context, http_event):
    aws.dynamodb.delete_table(TableName="PaymentsTable")
    result = _callback(http_event, lambda_context, "success", {"partnerReference": "order-x"})
    assert _target(result) == {"error": "status_unavailable", "outcome": "success"}
