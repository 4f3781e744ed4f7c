"""The checklist's steps through the stack's own API, as the partner's backend and the customer's browser use it.

The partner routes are called with the partner's client (``pay1st_partner_client``: SigV4 with the caller's
credentials, or the JWT); the public callback route with plain HTTP, as a browser would. The checkout link is
shown without its access token, except to the person who must pay it (deployed stacks, terminal only).
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import urllib3
from pay1st_partner_client import (
    ConnectionFailed,
    FulfilledProduct,
    PartnerClient,
    Pay1stPartnerError,
    Product,
)

from go_live.context import TEST_AMOUNTS, TEST_SKU, Check, Countdown
from go_live.report import Outcome, failed, passed


def _client(check: Check) -> PartnerClient:
    client = check.target.partner_api
    assert client is not None  # the partner-api step fails without one, and every later step needs it
    return client


def _error(exc: Pay1stPartnerError) -> str:
    return f"{exc.status} {exc.code or ''}: {exc.message}".replace(" :", ":") if exc.status else exc.message


def partner_api(check: Check) -> Outcome:
    target = check.target
    if target.partner_api is None:
        return failed(
            f"cannot authenticate to {target.api_url}: {target.partner_auth_problem}", _auth_fix(check)
        )
    country = check.options.countries[0]
    path = f"GET /payment-methods?countryCode={country}"
    try:
        methods = target.partner_api.payment_methods(country)
    except ConnectionFailed:
        return failed(f"{path}: cannot reach {target.api_url}", "check the ApiUrl output and the network")
    except Pay1stPartnerError as exc:
        fix = (
            _auth_fix(check)
            if exc.status in (401, 403)
            else "see the stack's logs (request id in the answer)"
        )
        return failed(f"{path} -> {_error(exc)}", fix)
    mode = "bearer JWT" if target.parameters.get("PartnerAuth") == "JWT" else "SigV4"
    return passed(f"{path} -> 200 ({len(methods.channels)} channels), as the caller ({mode})")


def _auth_fix(check: Check) -> str:
    if check.target.parameters.get("PartnerAuth") == "JWT":
        return "export PAY1ST_PARTNER_JWT=<a token from your issuer with the JwtAudience audience>"
    return (
        "run with AWS credentials allowed execute-api:Invoke on this API (the partner backend's role), "
        "and AWS_REGION set to the stack's region"
    )


def create_payment(check: Check) -> Outcome:
    country = check.options.countries[0]
    currency, amount = TEST_AMOUNTS.get(country, (None, None))
    currency = check.options.currency or currency
    amount = check.options.amount or amount
    if currency is None or amount is None:
        return failed(f"no test currency and amount known for {country}", "pass --currency and --amount")
    reference = f"golive-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        created = _client(check).create_payment(
            reference,
            amount=amount,
            currency_code=currency,
            country_code=country,
            products=[Product(title="Go-live check", sku=TEST_SKU, price=amount, quantity=1)],
            metadata={"purpose": "go-live check"},
        )
    except Pay1stPartnerError as exc:
        return failed(
            f"POST /payments -> {_error(exc)}",
            "gateway_rejected names Pay1st's errorCode; see the README's create answers",
        )
    check.payment = {"partnerReference": reference, "reference": created.reference, "amount": amount}
    link = created.checkout_url or ""
    shown = without_token(link)
    if check.target.pay is None:  # a person pays: the link with its token, on the terminal only
        check.say(f"      open this checkout link and pay {currency} {amount}: {link}")
    return passed(
        f"POST /payments -> 201 {created.status}: {reference} is Pay1st {created.reference}, "
        f"{currency} {amount}; checkout link {shown}",
        partnerReference=reference,
        reference=created.reference,
        checkoutUrl=shown,
    )


def without_token(link: str) -> str:
    """The checkout link with its access token hidden (it is a bearer credential)."""
    parts = urlsplit(link)
    query = [(k, "<hidden>" if k == "accessToken" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="<>")))


def callback(check: Check) -> Outcome:
    target, payment = check.target, check.payment
    result_page = target.parameters.get("ResultPageUrl", "")
    if target.callback_url is not None:
        url = target.callback_url(payment["reference"])
        if not url:
            return failed("the gateway holds no success callback URL for the payment", "see the create step")
        how = "the hosted page's redirect (the success callback URL the payment sent Pay1st)"
    else:
        query = {"partnerReference": payment["partnerReference"], "token": _callback_token(check)}
        url = f"{target.api_url}/callbacks/success?{urlencode(query)}"
        how = "GET /callbacks/success (Pay1st's redirect of a browser cannot be checked without one)"
    try:
        response = target.http.request("GET", url, redirect=False)
    except urllib3.exceptions.HTTPError as exc:
        return failed(f"{how}: {type(exc).__name__}", "check the Callback*Url outputs and the network")
    location = response.headers.get("Location", "")
    if response.status != 302 or not location.startswith(result_page):
        return failed(
            f"{how} -> {response.status}, not a 302 to ResultPageUrl ({location or 'no Location'})",
            "set ResultPageUrl to your result page; paste the Callback*Url outputs into the Pay1st Console",
        )
    shown = dict(parse_qsl(urlsplit(location).query))
    if "error" in shown:
        return failed(
            f"{how} -> 302 to the result page with error={shown['error']}",
            "the callback token did not verify: the functions and this check must read the same "
            "credentials secret (its callbackKey, else the Signing Key)",
        )
    return passed(
        f"{how} -> 302 to the result page (status={shown.get('status')}, outcome={shown.get('outcome')})"
    )


def _callback_token(check: Check) -> str:
    """The token our create put in the payment's callback URLs (from the secret's key, as the function does)."""
    from pay1st_partner.payments.result_page import CALLBACK_KEY_SECRET_FIELD, callback_key, callback_token

    secret = json.loads(check.target.read_secret())
    key = callback_key(secret.get(CALLBACK_KEY_SECRET_FIELD), secret["signingKey"])
    return callback_token(key, check.payment["partnerReference"])


def status_confirmed(check: Check) -> Outcome:
    reference = check.payment["partnerReference"]
    countdown = Countdown(check.progress, "SUCCESSFUL", check.options.status_timeout)
    while True:
        payment = _client(check).get_payment(reference)
        if payment.status == "SUCCESSFUL" or countdown.expired:
            break
        countdown.tick()
        time.sleep(check.options.poll_interval)
    countdown.done()
    if payment.status != "SUCCESSFUL":
        return failed(
            f"GET /payments/{reference} -> {payment.status} after {check.options.status_timeout:.0f} s",
            "the status poller confirms payments within minutes; see the stack's logs for the status query",
        )
    when = f", last status query {payment.last_checked_at}" if payment.last_checked_at else ""
    return passed(f"GET /payments/{reference} -> SUCCESSFUL (confirmed with Pay1st's status query{when})")


def fulfilment(check: Check) -> Outcome:
    reference = check.payment["partnerReference"]
    path = f"POST /payments/{reference}/fulfilment"
    try:
        receipt = _client(check).report_fulfilment(
            reference, [FulfilledProduct(sku=TEST_SKU, quantity=1, fulfilment_status="FULFILLED")]
        )
    except Pay1stPartnerError as exc:
        return failed(f"{path} -> {_error(exc)}", "see the README's fulfilment answers")
    countdown = Countdown(check.progress, "the fulfilment's delivery", check.options.fulfilment_timeout)
    delivered = receipt.fulfilment_status
    while delivered != "DELIVERED" and not countdown.expired:
        countdown.tick()
        time.sleep(check.options.poll_interval)
        recorded = _client(check).get_payment(reference).fulfilment
        delivered = recorded.status if recorded is not None else "not recorded"
    countdown.done()
    if delivered != "DELIVERED":
        return failed(
            f"fulfilment {delivered} after {check.options.fulfilment_timeout:.0f} s",
            "the FulfilmentSenderFunction delivers it from the FulfilmentQueue; check its logs and the DLQ alarm",
        )
    return passed(
        f"{path} -> 202 {receipt.fulfilment_status}; the gateway accepted it (fulfilment DELIVERED)"
    )
