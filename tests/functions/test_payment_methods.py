"""GET /payment-methods?countryCode=: the gateway's list through the real handler, cached per country."""

from __future__ import annotations

import pytest
from pay1st_partner import runtime

from tests.functions.outbound import call

METHODS_ROUTE = "GET /api/pay1st/payments/methods"


def _get(http_event, lambda_context, query=None):
    from functions.payment_methods import app

    return call(app.lambda_handler, http_event("GET", "/payment-methods", query=query), lambda_context)


def _calls(sandbox) -> int:
    return int(sandbox.control.counters().get(METHODS_ROUTE, 0))


def test_lists_the_gateways_channels_for_a_country(aws, sandbox, lambda_context, http_event):
    result = _get(http_event, lambda_context, {"countryCode": "ZA"})

    assert result.status == 200
    assert result.body["countryCode"] == "ZA"
    assert result.body["groups"], "the sandbox catalogue has groups for ZA"
    channels = result.body["channels"]
    assert channels and all({"id", "name", "status", "active"} <= set(c) for c in channels)
    # the flat list is the groups' channel entries, by id
    ids = {str(entry["id"]) for group in result.body["groups"] for entry in group["channels"]}
    assert {c["id"] for c in channels} == ids
    assert result.headers["X-Cache"] == "miss"


def test_a_second_request_within_the_ttl_is_served_from_the_cache(aws, sandbox, lambda_context, http_event):
    first = _get(http_event, lambda_context, {"countryCode": "ZA"})
    second = _get(http_event, lambda_context, {"countryCode": "za"})  # normalised to ZA

    assert second.status == 200
    assert second.body == first.body
    assert second.headers["X-Cache"] == "hit"
    assert _calls(sandbox) == 1


def test_the_cache_is_per_country(aws, sandbox, lambda_context, http_event):
    _get(http_event, lambda_context, {"countryCode": "ZA"})
    other = _get(http_event, lambda_context, {"countryCode": "NG"})
    assert other.status == 200
    assert other.body["countryCode"] == "NG"
    assert _calls(sandbox) == 2


def test_an_expired_entry_is_fetched_again(aws, sandbox, lambda_context, http_event, monkeypatch):
    monkeypatch.setenv("PAYMENT_METHODS_CACHE_SECONDS", "0.001")
    runtime.reset()
    _get(http_event, lambda_context, {"countryCode": "ZA"})
    import time

    time.sleep(0.01)
    assert _get(http_event, lambda_context, {"countryCode": "ZA"}).headers["X-Cache"] == "miss"
    assert _calls(sandbox) == 2


def test_a_stale_copy_is_served_when_the_gateway_fails(aws, sandbox, lambda_context, http_event, monkeypatch):
    # Given a cached list that has just expired, and a gateway answering 5xx
    monkeypatch.setenv("PAYMENT_METHODS_CACHE_SECONDS", "0.001")
    runtime.reset()
    first = _get(http_event, lambda_context, {"countryCode": "ZA"})
    sandbox.control.set_faults(rate_5xx={METHODS_ROUTE: 1.0})

    result = _get(http_event, lambda_context, {"countryCode": "ZA"})

    assert result.status == 200
    assert result.body == first.body


def test_an_unreachable_gateway_without_a_cached_copy_is_502(aws, lambda_context, http_event):
    result = _get(http_event, lambda_context, {"countryCode": "ZA"})
    assert (result.status, result.code) == (502, "gateway_unavailable")


@pytest.mark.parametrize(
    "query", [None, {"countryCode": ""}, {"countryCode": "ZAF"}, {"countryCode": "1"}, {"country": "ZA"}]
)
def test_a_missing_or_invalid_country_is_400(aws, lambda_context, http_event, query):
    result = _get(http_event, lambda_context, query)
    assert (result.status, result.code) == (400, "invalid_request")
    assert "countryCode" in result.body["message"]
