"""The checklist's first steps: the credentials secret, then the gateway itself (token, refresh, methods).

Each step takes the shared :class:`~go_live.context.Check` and returns an :class:`~go_live.report.Outcome`:
what was seen and, for a failure, what to do. Nothing secret is ever put in one: credentials are "set" or
"placeholder", tokens are never shown. The gateway is called with the bundle's own client
(:class:`pay1st.client.Pay1stClient`), with the secret's credentials, at the stack's ``Pay1stApiBaseUrl``.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pay1st.client import ClientConfig, Credentials, Pay1stClient
from pay1st.errors import AuthenticationError, Pay1stAPIError, Pay1stConnectionError, Pay1stError

from go_live.context import Check
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
    if isinstance(exc, Pay1stAPIError) and exc.status == 403:
        return failed(
            f"{what}: the credentials lack permission ({_api_error(exc)})",
            "ask your Pay1st Implementation Manager to enable API access for these credentials",
        )
    if isinstance(exc, AuthenticationError):
        return failed(
            f"{what}: the gateway at {base} refused the API key/secret ({_api_error(exc)})",
            f"generate the API Key and Secret for Environment={environment} in the Pay1st Console and put them "
            "in the credentials secret (keys of one environment do not work on the other)",
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


def _aws_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
