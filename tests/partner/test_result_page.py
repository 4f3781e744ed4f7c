"""pay1st_partner.payments.result_page: the callback token and the signed result-page parameters, pure.

Hostile first: a customer editing the result URL, replaying an expired one, or forging a callback token
must be told apart from what the bundle signed."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from pay1st_partner.payments.result_page import (
    callback_key,
    callback_token,
    derive_callback_key,
    sign_result_params,
    verify_callback_token,
    verify_result_params,
)

KEY = derive_callback_key("sk_sandbox_7Qm2vXr9Lp4Tn8Wc")
NOW = 1_800_000_000
SIGNED = sign_result_params(
    KEY, {"partnerReference": "order-1", "status": "NEW", "outcome": "success"}, expires=NOW + 600
)


def test_the_documented_algorithm_gives_the_same_signature():
    # Written from the README's steps, not from the module
    key = hmac.new(b"sk_sandbox_7Qm2vXr9Lp4Tn8Wc", b"pay1st-partner callback key v1", hashlib.sha256).digest()
    fields = {k: v for k, v in SIGNED.items() if k != "sig"}
    message = b"pay1st-result-v1?" + urlencode(sorted(fields.items())).encode()
    assert SIGNED["sig"] == hmac.new(key, message, hashlib.sha256).hexdigest()


def test_what_was_signed_verifies_until_it_expires():
    assert verify_result_params(KEY, SIGNED, now=NOW) == {k: v for k, v in SIGNED.items() if k != "sig"}
    assert verify_result_params(KEY, SIGNED, now=NOW + 600) is not None
    assert verify_result_params(KEY, SIGNED, now=NOW + 601) is None


@pytest.mark.parametrize(
    "edit",
    [
        {"status": "SUCCESSFUL"},
        {"partnerReference": "order-2"},
        {"expires": str(NOW + 10**6)},
        {"sig": "0" * 64},
        {"sig": ""},
        {"error": "none"},
        {"status": None},
        {"expires": None},
        {"sig": None},
    ],
    ids=[
        "status",
        "reference",
        "expiry",
        "sig-zero",
        "sig-empty",
        "added-field",
        "removed",
        "no-expiry",
        "no-sig",
    ],
)
def test_an_edited_result_url_does_not_verify(edit):
    query = {**SIGNED, **{k: v for k, v in edit.items() if v is not None}}
    for name in [k for k, v in edit.items() if v is None]:
        del query[name]
    assert verify_result_params(KEY, query, now=NOW) is None


def test_another_key_does_not_verify_and_unsigned_parameters_are_ignored():
    assert verify_result_params(derive_callback_key("other"), SIGNED, now=NOW) is None
    # the page's own parameters are not signed: present or not, the signed fields are the same
    assert verify_result_params(KEY, {**SIGNED, "lang": "fr"}, now=NOW) == verify_result_params(
        KEY, SIGNED, now=NOW
    )


def test_callback_tokens_prove_the_reference_they_were_made_for():
    token = callback_token(KEY, "order-1")
    assert verify_callback_token(KEY, "order-1", token)
    assert not verify_callback_token(KEY, "order-2", token)
    assert not verify_callback_token(derive_callback_key("other"), "order-1", token)
    for forged in (None, "", token[:-1], token + "A", token.upper(), "é" * 43):
        assert not verify_callback_token(KEY, "order-1", forged)


def test_a_result_signature_is_not_a_callback_token_and_back():
    # Domain separation: neither can be replayed as the other
    assert callback_token(KEY, "order-1") not in SIGNED.values()


def test_a_dedicated_key_is_used_as_given_and_must_be_long_enough():
    assert callback_key("c" * 32, "sk") == b"c" * 32
    assert callback_key(None, "sk") == derive_callback_key("sk")
    with pytest.raises(ValueError, match="at least 32"):
        callback_key("short", "sk")


def test_the_client_package_ships_the_same_file():
    """A partner's result page verifies with ``pay1st_partner_client.result_page``: it must be this one."""
    from local_stack.template import PROJECT_ROOT

    layer = PROJECT_ROOT / "layers/pay1st/pay1st_partner/payments/result_page.py"
    client = PROJECT_ROOT / "clients/python/src/pay1st_partner_client/result_page.py"
    assert client.read_bytes() == layer.read_bytes()
