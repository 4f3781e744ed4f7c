"""GET /callbacks/{outcome}: a 302 to the configured result page only, with OUR status, signed; only a
callback carrying the token we sent Pay1st learns anything (on moto and the sandbox)."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from pay1st_partner import runtime
from pay1st_partner.payments.result_page import callback_token, verify_result_params

from tests.conftest import RESULT_PAGE_URL
from tests.functions.outbound import call, create, create_body


def _callback(http_event, lambda_context, outcome, query=None):
    from functions.callback_redirect import app

    event = http_event("GET", f"/callbacks/{outcome}", query=query, path_params={"outcome": outcome})
    return call(app.lambda_handler, event, lambda_context)


def _signed(partner_reference):
    """The query of the callback URLs we send Pay1st for ``partner_reference``."""
    return {
        "partnerReference": partner_reference,
        "token": callback_token(runtime.callback_key(), partner_reference),
    }


def _target(result):
    """The result page's signed parameters (without expires and sig), after checking the signature."""
    assert result.status == 302
    location = urlsplit(result.headers["Location"])
    page = urlsplit(RESULT_PAGE_URL)
    # never an open redirect: scheme, host and path are always the configured page's
    assert (location.scheme, location.netloc, location.path) == (page.scheme, page.netloc, page.path)
    query = dict(parse_qsl(location.query))
    verified = verify_result_params(runtime.callback_key(), query)
    assert verified is not None, query  # the partner's page can check every redirect
    assert set(query) - set(verified) == {"sig"}
    return {key: value for key, value in verified.items() if key != "expires"}


def test_redirects_to_the_result_page_with_our_recorded_status(aws, sandbox, lambda_context, http_event):
    # Given a NEW payment (the customer has not paid)
    assert create(http_event, lambda_context, create_body("order-cb")).status == 201

    # When the browser arrives on the success callback
    result = _callback(http_event, lambda_context, "success", _signed("order-cb"))

    # Then the result page hears our status (NEW, as Pay1st confirms), not the claimed outcome
    assert _target(result) == {"partnerReference": "order-cb", "status": "NEW", "outcome": "success"}
    assert result.headers["Cache-Control"] == "no-store"
    assert runtime.payments().get("order-cb").status == "NEW"


def test_reports_the_final_status_once_recorded(aws, sandbox, lambda_context, http_event):
    created = create(http_event, lambda_context, create_body("order-cb2"))
    runtime.payments().apply_status("order-cb2", "FAILED", source="test", reference=created.body["reference"])

    result = _callback(http_event, lambda_context, "success", _signed("order-cb2"))

    assert _target(result)["status"] == "FAILED"


@pytest.mark.parametrize("outcome", ["success", "failure", "pending", "cancel"])
def test_an_unknown_reference_with_a_valid_token_lands_on_the_result_page_with_an_error(
    aws, lambda_context, http_event, outcome
):
    result = _callback(http_event, lambda_context, outcome, _signed("nobody"))
    assert _target(result) == {"error": "unknown_payment", "outcome": outcome}


@pytest.mark.parametrize(
    "query",
    [None, {"partnerReference": ""}, {"partnerReference": "a/b"}, {"partnerReference": "x" * 500}],
    ids=["missing", "empty", "invalid", "oversized"],
)
def test_a_missing_or_invalid_reference_is_an_error_on_the_result_page(
    aws, lambda_context, http_event, query
):
    assert _target(_callback(http_event, lambda_context, "success", query))["error"] == "invalid_callback"


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

    event = http_event("GET", "/callbacks/cancel", query=_signed("nobody"))
    location = urlsplit(app.lambda_handler(event, lambda_context)["headers"]["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "shop.example.com"
    assert query["lang"] == ["fr"]
    assert query["error"] == ["unknown_payment"]
    assert "status" not in query  # the page's own parameter named like a signed one is dropped
    assert verify_result_params(runtime.callback_key(), dict(parse_qsl(location.query))) is not None


def test_a_table_failure_still_lands_on_the_result_page(aws, lambda_context, http_event):
    aws.dynamodb.delete_table(TableName="PaymentsTable")
    result = _callback(http_event, lambda_context, "success", _signed("order-x"))
    assert _target(result) == {"error": "status_unavailable", "outcome": "success"}


# --- callbacks that prove themselves ------------------------------------------------------------------

STATUS_QUERY_ROUTE = "GET /api/pay1st/payments"


def _queries(sandbox) -> int:
    return int(sandbox.control.counters().get(STATUS_QUERY_ROUTE, 0))


def test_the_callback_urls_sent_to_pay1st_carry_a_token_that_works(aws, sandbox, lambda_context, http_event):
    # Given a payment created through the handler: Pay1st holds its four callback URLs
    created = create(http_event, lambda_context, create_body("order-tok"))
    request = sandbox.control.payment(created.body["reference"])
    sent = {k: v for k, v in _walk(request) if k.startswith("callback") and k.endswith("Url")}
    assert len(sent) == 4, sent

    for url in sent.values():
        # When the browser follows one exactly as Pay1st redirects it
        parts = urlsplit(url)
        outcome = parts.path.rsplit("/", 1)[1]
        result = _callback(http_event, lambda_context, outcome, dict(parse_qsl(parts.query)))
        # Then it gets the payment's status
        assert _target(result) == {"partnerReference": "order-tok", "status": "NEW", "outcome": outcome}


def _walk(document):
    """Every (key, value) pair of a nested JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(document, list):
        for value in document:
            yield from _walk(value)


@pytest.mark.parametrize(
    "forge",
    [
        lambda ref: {"partnerReference": ref},
        lambda ref: {"partnerReference": ref, "token": ""},
        lambda ref: {"partnerReference": ref, "token": "A" * 43},
        lambda ref: {"partnerReference": ref, "token": callback_token(b"x" * 32, ref)},
        lambda ref: {"partnerReference": ref, "token": callback_token(runtime.callback_key(), "other")},
        lambda ref: {"partnerReference": ref, "token": callback_token(runtime.callback_key(), ref)[:-2]},
    ],
    ids=["missing", "empty", "made-up", "other-key", "other-reference", "truncated"],
)
def test_a_forged_or_missing_token_reveals_nothing_and_costs_no_read_or_query(
    aws, sandbox, lambda_context, http_event, forge, monkeypatch
):
    # Given a real, open payment and a reference that does not exist
    assert create(http_event, lambda_context, create_body("order-real")).status == 201
    reads: list[str] = []
    repository = runtime.payments()
    original_get = repository.get
    monkeypatch.setattr(repository, "get", lambda ref: reads.append(ref) or original_get(ref))
    queries = _queries(sandbox)

    # When a guesser tries both without a valid token
    real = _target(_callback(http_event, lambda_context, "success", forge("order-real")))
    unknown = _target(_callback(http_event, lambda_context, "success", forge("order-guess")))

    # Then both get the same answer, naming neither reference nor any status, at no cost
    assert real == unknown == {"error": "invalid_callback", "outcome": "success"}
    assert reads == [] and _queries(sandbox) == queries


def test_an_edited_result_url_does_not_verify(aws, sandbox, lambda_context, http_event):
    assert create(http_event, lambda_context, create_body("order-edit")).status == 201
    location = _callback(http_event, lambda_context, "success", _signed("order-edit")).headers["Location"]
    query = dict(parse_qsl(urlsplit(location).query))
    assert query["status"] == "NEW"

    # When the customer edits the status into the URL
    assert verify_result_params(runtime.callback_key(), {**query, "status": "SUCCESSFUL"}) is None
    assert verify_result_params(runtime.callback_key(), query) is not None


# --- a truthful return ----------------------------------------------------------------------------------


def test_a_paid_payment_whose_webhook_never_came_returns_successful(aws, sandbox, lambda_context, http_event):
    # Given the customer paid at Pay1st and no webhook reached us (the sandbox's webhook URL is unreachable)
    created = create(http_event, lambda_context, create_body("order-paid"))
    sandbox.control.settle(created.body["reference"], "pay")
    assert runtime.payments().get("order-paid").status == "NEW"

    # When the browser comes back on the success callback
    result = _callback(http_event, lambda_context, "success", _signed("order-paid"))

    # Then the callback asked Pay1st once, recorded SUCCESSFUL (with its event) and says so
    assert _target(result) == {"partnerReference": "order-paid", "status": "SUCCESSFUL", "outcome": "success"}
    assert _queries(sandbox) == 1
    assert runtime.payments().get("order-paid").status == "SUCCESSFUL"


def test_a_flood_of_callbacks_for_one_open_payment_costs_at_most_one_status_query(
    aws, sandbox, lambda_context, http_event
):
    # Given an open payment (not paid yet)
    assert create(http_event, lambda_context, create_body("order-flood")).status == 201

    # When 50 callbacks arrive for it within the status-query interval
    answers = [
        _target(_callback(http_event, lambda_context, "pending", _signed("order-flood"))) for _ in range(50)
    ]

    # Then every one lands on the result page with the status, and Pay1st was asked at most once
    assert all(answer["status"] == "NEW" for answer in answers)
    assert _queries(sandbox) <= 1
    assert _queries(sandbox) == 1  # and the first one did ask


def test_a_callback_racing_a_webhooks_status_query_waits_for_its_answer(
    aws, sandbox, lambda_context, http_event
):
    import threading
    import time

    from tests.conftest import FakeLambdaContext
    from tests.functions.test_webhook_intake import event_body, post, signed

    # Given a payment paid at Pay1st, whose webhook is being confirmed by a slow status query (1 s)
    created = create(http_event, lambda_context, create_body("order-race"))
    sandbox.control.settle(created.body["reference"], "pay")
    sandbox.control.set_faults(latency={STATUS_QUERY_ROUTE: 1.0})
    record = runtime.payments().get("order-race")
    body = event_body(record, "SUCCESSFUL")
    webhook = threading.Thread(target=post, args=(http_event, body, signed(body)))
    webhook.start()
    while (
        "lastQueryAt"
        not in aws.dynamodb.get_item(
            TableName="PaymentsTable", Key={"partnerReference": {"S": "order-race"}}
        )["Item"]
    ):
        time.sleep(0.02)  # the webhook's confirmation holds the payment's query slot: its query is in flight
    assert runtime.payments().get("order-race").status == "NEW"

    # When the customer's browser comes back meanwhile
    result = _callback(http_event, FakeLambdaContext(), "success", _signed("order-race"))
    webhook.join(timeout=10)

    # Then the callback, refused the slot, waited for that query's answer instead of showing NEW, and
    # Pay1st was asked once in all (by the webhook)
    assert _target(result) == {"partnerReference": "order-race", "status": "SUCCESSFUL", "outcome": "success"}
    assert _queries(sandbox) == 1


def test_a_gateway_that_does_not_answer_in_time_leaves_the_recorded_status(
    aws, sandbox, lambda_context, http_event
):
    created = create(http_event, lambda_context, create_body("order-slow"))
    sandbox.control.settle(created.body["reference"], "pay")
    sandbox.control.set_faults(latency={STATUS_QUERY_ROUTE: 10.0})

    import time

    started = time.monotonic()
    result = _callback(http_event, lambda_context, "success", _signed("order-slow"))

    assert time.monotonic() - started < 8  # bounded by the callback's short deadline, not the gateway
    assert _target(result)["status"] == "NEW"


def _failed_payment(partner_reference):
    """A payment recorded FAILED (final: the callback reads it and asks the gateway nothing)."""
    from pay1st_partner.fingerprints import fingerprint

    from tests.partner.helpers import created_payment, payment_request

    request = payment_request(partner_reference)
    runtime.payments().claim(request, fingerprint(request), None)
    runtime.payments().mark_created(partner_reference, created_payment(request))
    runtime.payments().apply_status(partner_reference, "FAILED", source="test")


def _rotate(aws, **secret):
    """Store a new version of the credentials secret and drop every cached copy of it."""
    import json

    from tests.conftest import SANDBOX_CREDENTIALS, SECRET_NAME, _reset_runtime

    aws.secrets.put_secret_value(
        SecretId=SECRET_NAME, SecretString=json.dumps({**SANDBOX_CREDENTIALS, **secret})
    )
    _reset_runtime()


@pytest.mark.parametrize(
    ("accept_until", "accepted"),
    [("2999-01-01T00:00:00Z", True), ("2020-01-01T00:00:00Z", False)],
    ids=["before-acceptUntil", "after-acceptUntil"],
)
def test_a_token_made_before_a_signing_key_rotation_is_accepted_until_its_accept_until(
    aws, lambda_context, http_event, accept_until, accepted
):
    from tests.conftest import SANDBOX_CREDENTIALS

    # Given a payment whose callback URLs carry a token made with the key derived from the old Signing Key
    _failed_payment("order-rot")
    old_query = _signed("order-rot")
    # When the Signing Key is rotated, the old one listed in ``previous`` until ``accept_until``
    old = {"signingKey": SANDBOX_CREDENTIALS["signingKey"], "acceptUntil": accept_until}
    _rotate(aws, signingKey="sk_rotated_signing_key_0123456789", previous=[old])
    assert _signed("order-rot") != old_query  # the current key makes other tokens now

    # And the customer comes back through the old callback URL
    result = _callback(http_event, lambda_context, "failure", old_query)

    # Then before acceptUntil it is answered (signed with the new key); after it, refused revealing nothing
    if accepted:
        assert _target(result) == {"partnerReference": "order-rot", "status": "FAILED", "outcome": "failure"}
    else:
        assert _target(result) == {"error": "invalid_callback", "outcome": "failure"}
    # And the current key's tokens are accepted either way
    assert (
        _target(_callback(http_event, lambda_context, "failure", _signed("order-rot")))["status"] == "FAILED"
    )


def test_a_rotated_dedicated_callback_key_listed_in_previous_is_accepted(aws, lambda_context, http_event):
    old_key, new_key = "c" * 40, "d" * 40
    _rotate(aws, callbackKey=old_key)
    _failed_payment("order-rot2")
    old_query = _signed("order-rot2")
    # An entry holding only the old callbackKey (the Signing Key did not change)
    _rotate(
        aws, callbackKey=new_key, previous=[{"callbackKey": old_key, "acceptUntil": "2999-01-01T00:00:00Z"}]
    )
    assert _target(_callback(http_event, lambda_context, "failure", old_query))["status"] == "FAILED"
    _rotate(aws, callbackKey=new_key)  # once dropped from previous, the old tokens are refused
    assert _target(_callback(http_event, lambda_context, "failure", old_query))["error"] == "invalid_callback"
