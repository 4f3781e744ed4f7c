"""The checklist's steps against the gateway and the partner API, one small function each.

Each takes the shared :class:`~go_live.context.Check` and returns an :class:`~go_live.report.Outcome`: what
was seen and, for a failure, what to do. Nothing secret is ever put in one: credentials are "set" or
"placeholder", tokens are never shown, the checkout link is shown without its access token.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st.errors import AuthenticationError, Pay1stAPIError, Pay1stConnectionError, Pay1stError

from go_live.context import TEST_AMOUNTS, TEST_SKU, Check, Countdown
from go_live.report import Outcome, failed, passed

PLACEHOLDER = "REPLACE_ME"  # what template.yaml's Pay1stCredentialsSecret holds until the partner replaces it
REQUIRED_SECRET_KEYS = ("apiKey", "apiSecret", "signingKey")
WEBHOOK_SECRET_KEYS = ("webhookUsername", "webhookPassword")


def _key_state(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        return "missing"
    return "placeholder" if value == PLACEHOLDER else "set"


def credentials_secret(check: Check) -> Outcome:
    name = check.target.outputs.get("CredentialsSecretName", "?")
    put = (
        f"aws secretsmanager put-secret-value --secret-id {name} --secret-string "
        '\'{"apiKey":"…","apiSecret":"…","signingKey":"…"}\' (values from the Pay1st Console, this environment)'
    )
    try:
        document = json.loads(check.target.read_secret())
    except (ClientError, BotoCoreError) as exc:
        return failed(
            f"cannot read secret {name}: {_aws_error(exc)}", f"allow secretsmanager:GetSecretValue on {name}"
        )
    except ValueError:
        return failed(f"secret {name} is not JSON", put)
    if not isinstance(document, dict):
        return failed(f"secret {name} is not a JSON object", put)
    states = {key: _key_state(document, key) for key in REQUIRED_SECRET_KEYS}
    described = ", ".join(f"{key} {state}" for key, state in states.items())
    webhook = [_key_state(document, key) for key in WEBHOOK_SECRET_KEYS]
    basic_auth = (
        "set" if webhook == ["set", "set"] else "not set" if webhook == ["missing"] * 2 else "incomplete"
    )
    details = {**states, "webhookBasicAuth": basic_auth, "previous": len(document.get("previous") or [])}
    if any(state != "set" for state in states.values()):
        return failed(f"{described} in {name}", put, **details)
    mode = check.target.parameters.get("WebhookSignatureMode", "any")
    if basic_auth == "incomplete":
        return failed(
            f"{described}; only one of webhookUsername/webhookPassword is set",
            "set both webhookUsername and webhookPassword (Pay1st Console, Product Settings), or neither",
            **details,
        )
    if mode == "basic-auth" and basic_auth != "set":
        return failed(
            f"{described}; WebhookSignatureMode=basic-auth but webhookUsername/webhookPassword are not set",
            "add webhookUsername and webhookPassword (Pay1st Console, Product Settings) to the secret",
            **details,
        )
    check.credentials = Credentials(document["apiKey"], document["apiSecret"], document["signingKey"])
    return passed(f"{described}; webhook Basic Auth {basic_auth}", **details)


def _gateway_failure(check: Check, what: str, exc: Pay1stError) -> Outcome:
    base = check.target.parameters.get("Pay1stApiBaseUrl", "?")
    environment = check.target.environment
    if isinstance(exc, AuthenticationError) or (isinstance(exc, Pay1stAPIError) and exc.status == 401):
        return failed(
            f"{what}: the gateway at {base} refused the API key/secret ({_api_error(exc)})",
            f"generate the API Key and Secret for Environment={environment} in the Pay1st Console and put them "
            "in the credentials secret (keys of one environment do not work on the other)",
        )
    if isinstance(exc, Pay1stAPIError) and exc.status == 403:
        return failed(
            f"{what}: the credentials lack permission ({_api_error(exc)})",
            "ask your Pay1st Implementation Manager to enable API access for these credentials",
        )
    if isinstance(exc, Pay1stConnectionError):
        return failed(
            f"{what}: could not reach the gateway at {base}",
            "check the Pay1stApiBaseUrl parameter (contract §14) and that the gateway is reachable from here",
        )
    detail = _api_error(exc) if isinstance(exc, Pay1stAPIError) else type(exc).__name__
    return failed(
        f"{what}: the gateway answered {detail}", "see the gateway's errorCode; give Pay1st the sessionId"
    )


def _api_error(exc: Pay1stAPIError) -> str:
    return f"HTTP {exc.status} {exc.error_code or ''}, sessionId {exc.session_id or '-'}".replace("  ", " ")


def gateway_token(check: Check) -> Outcome:
    assert check.credentials is not None
    parameters = check.target.parameters
    try:
        config = ClientConfig(
            base_url=parameters.get("Pay1stApiBaseUrl", ""),
            pay_url=parameters.get("Pay1stPayBaseUrl", ""),
            max_attempts=2,
        )
    except ValueError as exc:
        return failed(f"the gateway URLs are not usable: {exc}", "set Pay1stApiBaseUrl and Pay1stPayBaseUrl")
    check.client = Pay1stClient(config, check.credentials)
    try:
        check.token = check.client.generate_token()
    except Pay1stError as exc:
        return _gateway_failure(check, "token (§2)", exc)
    return passed(f"POST {config.base_url}/api/pay1st/auth/token -> access and refresh token issued")


def gateway_refresh(check: Check) -> Outcome:
    assert check.client is not None and check.token is not None
    try:
        refreshed = check.client.refresh_token(check.token.refresh_token)
    except Pay1stError as exc:
        return _gateway_failure(check, "refresh (§3)", exc)
    fresh = refreshed.access_token != check.token.access_token
    return passed(f"POST /api/pay1st/auth/refresh -> {'a new' if fresh else 'the same'} access token")


def payment_methods(check: Check) -> Outcome:
    assert check.client is not None
    found: dict[str, int] = {}
    for country in check.options.countries:
        try:
            methods = check.client.list_payment_methods(country)
        except Pay1stError as exc:
            return _gateway_failure(check, f"payment methods for {country} (§6)", exc)
        found[country] = sum(1 for channel in methods.channels if channel.is_active)
    described = ", ".join(f"{country} {count} active" for country, count in found.items())
    empty = [country for country, count in found.items() if count == 0]
    if empty:
        return failed(
            f"{described}: no active payment method for {', '.join(empty)}",
            "ask Pay1st to associate payment methods for these countries with your partner profile "
            "(checklist: API credentials and payment methods), or leave them out of COUNTRIES",
            **found,
        )
    return passed(described, **found)


def partner_api(check: Check) -> Outcome:
    target = check.target
    if target.partner_auth_problem:
        return failed(
            f"cannot authenticate to {target.api_url}: {target.partner_auth_problem}", _auth_fix(check)
        )
    country = check.options.countries[0]
    path = f"/payment-methods?countryCode={country}"
    try:
        status, _, body = target.partner("GET", path)
    except urllib3.exceptions.HTTPError as exc:
        return failed(
            f"GET {target.api_url}{path}: {type(exc).__name__}", "check the ApiUrl output and the network"
        )
    if status == 200:
        channels = len((body or {}).get("channels") or [])
        return passed(f"GET {path} -> 200 ({channels} channels), as the caller ({_auth_name(check)})")
    if status in (401, 403):
        return failed(f"GET {path} -> {status}: {_message(body)}", _auth_fix(check))
    return failed(
        f"GET {path} -> {status}: {_message(body)}", "see the stack's logs (correlation id in the answer)"
    )


def _auth_name(check: Check) -> str:
    mode = check.target.parameters.get("PartnerAuth", "AWS_IAM")
    return "bearer JWT" if mode == "JWT" else "SigV4"


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
    order = {
        "partnerReference": reference,
        "amount": amount,
        "currencyCode": currency,
        "countryCode": country,
        "products": [{"title": "Go-live check", "sku": TEST_SKU, "price": amount, "quantity": 1}],
        "metadata": [{"key": "purpose", "value": "go-live check"}],
    }
    status, _, body = check.target.partner("POST", "/payments", order)
    if status != 201 or not isinstance(body, dict):
        return failed(
            f"POST /payments -> {status}: {_message(body)}",
            "a 502 gateway_rejected names Pay1st's errorCode; see the README's create answers",
        )
    check.payment = {**order, "reference": body.get("reference"), "status": body.get("status")}
    link = body.get("checkoutUrl") or ""
    shown = without_token(link)
    if check.target.pay is None:  # a person pays: the link with its token, on the terminal only
        check.say(f"      open this checkout link and pay {currency} {amount}: {link}")
    return passed(
        f"POST /payments -> 201 {body.get('status')}: {reference} is Pay1st {body.get('reference')}, "
        f"{currency} {amount}; checkout link {shown}",
        partnerReference=reference,
        reference=body.get("reference"),
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
        url = f"{target.api_url}/callbacks/success?{urlencode({'partnerReference': payment['partnerReference']})}"
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
    return passed(
        f"{how} -> 302 to the result page (status={shown.get('status')}, outcome={shown.get('outcome')})"
    )


def status_confirmed(check: Check) -> Outcome:
    reference = check.payment["partnerReference"]
    path = check.target.payment_path(reference)
    countdown = Countdown(check.progress, "SUCCESSFUL", check.options.status_timeout)
    while True:
        status, _, body = check.target.partner("GET", path)
        seen = (body or {}).get("status") if status == 200 else f"HTTP {status}"
        if seen == "SUCCESSFUL" or countdown.expired:
            break
        countdown.tick()
        time.sleep(check.options.poll_interval)
    countdown.done()
    if seen != "SUCCESSFUL":
        return failed(
            f"GET /payments/{reference} -> {seen} after {check.options.status_timeout:.0f} s",
            "the status poller confirms payments within minutes; see the stack's logs for the status query",
        )
    checked = (body or {}).get("lastCheckedAt")
    when = f", last status query {checked}" if checked else ""
    return passed(f"GET /payments/{reference} -> SUCCESSFUL (confirmed with Pay1st's status query{when})")


def fulfilment(check: Check) -> Outcome:
    reference = check.payment["partnerReference"]
    path = check.target.payment_path(reference)
    notice = {"products": [{"sku": TEST_SKU, "quantity": 1, "fulfilmentStatus": "FULFILLED"}]}
    status, _, body = check.target.partner("POST", f"{path}/fulfilment", notice)
    if status != 202:
        return failed(
            f"POST {path}/fulfilment -> {status}: {_message(body)}", "see the README's fulfilment answers"
        )
    countdown = Countdown(check.progress, "the fulfilment's delivery", check.options.fulfilment_timeout)
    delivered = None
    while not countdown.expired:
        status, _, body = check.target.partner("GET", path)
        delivered = ((body or {}).get("fulfilment") or {}).get("status") if status == 200 else None
        if delivered == "DELIVERED":
            break
        countdown.tick()
        time.sleep(check.options.poll_interval)
    countdown.done()
    if delivered != "DELIVERED":
        return failed(
            f"fulfilment {delivered or 'not recorded'} after {check.options.fulfilment_timeout:.0f} s",
            "the FulfilmentSenderFunction delivers it from the FulfilmentQueue; check its logs and the DLQ alarm",
        )
    return passed(f"POST {path}/fulfilment -> 202; the gateway accepted it (fulfilment DELIVERED)")


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("code") or "") + (": " if body.get("code") else "") + str(body.get("message", ""))
    return "no JSON body"


def _aws_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
