"""pay1st_partner.payments.callbacks: our public URLs and a redirect that can only go to the result page."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from pay1st_partner.payments.callbacks import (
    callback_urls,
    public_base_url,
    redirect_location,
    redirect_params,
    result_page_location,
    webhook_url,
)
from pay1st_partner.payments.result_page import callback_token, verify_result_params
from pay1st_partner.references import is_partner_reference
from pay1st_partner.settings import Settings

from tests.partner.test_settings import BASE


def test_public_base_url_prefers_the_configured_one():
    settings = Settings.from_env({**BASE, "PUBLIC_BASE_URL": "https://pay.shop.example"})
    assert public_base_url(settings, {"domainName": "x.execute-api"}) == "https://pay.shop.example"


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("$default", "https://abc.execute-api.eu-west-1.amazonaws.com"),
        ("prod", "https://abc.execute-api.eu-west-1.amazonaws.com/prod"),
    ],
)
def test_public_base_url_from_the_request(stage, expected):
    settings = Settings.from_env(BASE)
    context = {"domainName": "abc.execute-api.eu-west-1.amazonaws.com", "stage": stage}
    assert public_base_url(settings, context) == expected


@pytest.mark.parametrize("domain", ["", "evil.example/path", "a@b", None])
def test_public_base_url_refuses_an_unusable_domain(domain):
    with pytest.raises(ValueError):
        public_base_url(Settings.from_env(BASE), {"domainName": domain})


KEY = b"k" * 32


def test_callback_urls_carry_the_partner_reference_encoded_and_its_token():
    urls = callback_urls("https://api.example", "order:1", KEY)
    assert set(urls) == {"success", "failure", "pending", "cancel"}
    token = callback_token(KEY, "order:1")
    assert (
        urls["success"] == f"https://api.example/callbacks/success?partnerReference=order%3A1&token={token}"
    )
    assert webhook_url("https://api.example") == "https://api.example/webhooks/pay1st"


@pytest.mark.parametrize("value", ["order-1", "A", "a.b_c:d-e", "x" * 64])
def test_accepts_safe_partner_references(value):
    assert is_partner_reference(value)


@pytest.mark.parametrize("value", ["", "-x", "a/b", "a b", "x" * 65, "é", None, 12, "a?b", "a#b"])
def test_refuses_unsafe_partner_references(value):
    assert not is_partner_reference(value)


def test_the_location_only_ever_changes_the_query():
    location = result_page_location(
        "https://shop.example/result?lang=fr&status=x#top", {"status": "NEW", "partnerReference": "o&1"}
    )
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "shop.example",
        "/result",
        "top",
    )
    assert parse_qs(parts.query) == {"lang": ["fr"], "status": ["NEW"], "partnerReference": ["o&1"]}


def test_redirect_params():
    assert redirect_params("success", "o-1", "PENDING") == {
        "partnerReference": "o-1",
        "status": "PENDING",
        "outcome": "success",
    }
    assert redirect_params("success", None, None) == {"error": "unknown_payment", "outcome": "success"}
    assert redirect_params("bogus", "o-1", "NEW") == {"error": "invalid_outcome"}


class _BrokenRepository:
    """A payment that cannot be read for a reason no one foresaw (not an AWS error)."""

    def get(self, partner_reference: str) -> None:
        raise KeyError("status")


def test_any_failure_reading_the_payment_still_lands_on_the_result_page():
    location = redirect_location(
        "https://shop.example/result",
        "success",
        "order-1",
        callback_token(KEY, "order-1"),
        key=KEY,
        repository=_BrokenRepository(),  # type: ignore[arg-type]
    )
    assert location.startswith("https://shop.example/result?")
    query = dict(parse_qsl(urlsplit(location).query))
    assert verify_result_params(KEY, query) == {
        "error": "status_unavailable",
        "outcome": "success",
        "expires": query["expires"],
    }
