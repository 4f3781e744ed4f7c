"""§2 Generate Access Token, §3 Refresh Token, §5 the AccessToken header — over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from pay1st_sandbox import SandboxServer
from sandbox_kit import AUTH, CHANNEL, GatewayClient, assert_gateway_error, basic, payment_body


def test_token_is_issued_for_the_right_credentials(gw: GatewayClient, server: SandboxServer) -> None:
    reply = gw.token()

    assert reply.status == 200
    assert reply.headers["Content-Type"] == AUTH
    body = reply.json()
    assert set(body) == {"role", "accessToken", "refreshToken"} and body["role"] == "API_USER"
    assert body["accessToken"] != body["refreshToken"]
    # Opaque tokens that need URL-escaping in a checkout link (§8).
    assert "+" in body["accessToken"] and "/" in body["accessToken"]
    assert server.control.counters()["tokens_issued"] == 1
    assert server.control.counters()["POST /api/pay1st/auth/token"] == 1


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", CHANNEL, "application/vnd.carry1st.payments.payment+json"],
)
def test_token_with_wrong_content_type_is_405(gw: GatewayClient, content_type: str) -> None:
    assert_gateway_error(gw.token(content_type=content_type), 405, "UNSUPPORTED_MEDIA_TYPE")


def test_token_content_type_parameters_are_fine(gw: GatewayClient) -> None:
    assert gw.token(content_type=f"{AUTH}; charset=UTF-8").status == 200


def test_token_with_wrong_method_is_405(gw: GatewayClient) -> None:
    reply = gw.request(
        "GET", "/api/pay1st/auth/token", headers={"Authorization": basic("pk_sandbox_local", "x")}
    )
    assert_gateway_error(reply, 405, "METHOD_NOT_ALLOWED")
    assert reply.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "authorization",
    [
        basic("pk_sandbox_local", "wrong-secret"),
        basic("pk_other", "sk_sandbox_local_secret"),
        basic("sk_sandbox_local_secret", "pk_sandbox_local"),
        "Bearer pk_sandbox_local",
        "Basic not-base64!!",
    ],
    ids=["wrong-secret", "wrong-key", "swapped", "not-basic", "garbled"],
)
def test_token_with_bad_credentials_is_401(
    gw: GatewayClient, authorization: str, server: SandboxServer
) -> None:
    assert_gateway_error(gw.token(authorization=authorization), 401, "INVALID_CREDENTIALS")
    assert server.control.counters()["tokens_issued"] == 0


def test_token_without_credentials_is_401(gw: GatewayClient) -> None:
    reply = gw.request(
        "POST", "/api/pay1st/auth/token", body=b'{"role":"API_USER"}', headers={"Content-Type": AUTH}
    )
    assert_gateway_error(reply, 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize("role", ["ADMIN", "api_user", 1])
def test_token_with_wrong_role_is_401(gw: GatewayClient, role: object) -> None:
    assert_gateway_error(gw.token(role=role), 401, "INVALID_ROLE")


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{}", "INVALID_REQUEST"), (b"role=API_USER", "INVALID_JSON"), (b'["API_USER"]', "INVALID_JSON")],
)
def test_token_with_invalid_body_is_400(gw: GatewayClient, body: bytes, code: str) -> None:
    assert_gateway_error(gw.token(body=body), 400, code)


def test_token_forbidden_fault_is_403(gw: GatewayClient, server: SandboxServer) -> None:
    server.control.set_faults(token_forbidden=True)
    assert_gateway_error(gw.token(), 403, "FORBIDDEN")
    server.control.clear_faults()
    assert gw.token().status == 200


def test_concurrent_token_requests_each_get_a_token(gw: GatewayClient, server: SandboxServer) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda _: gw.access_token(), range(16)))
    assert len(set(tokens)) == 16
    assert server.control.counters()["tokens_issued"] == 16


# -- §3 refresh --


def test_refresh_issues_a_new_access_token_and_counts(gw: GatewayClient, server: SandboxServer) -> None:
    access, refresh = gw.tokens()

    reply = gw.refresh(refresh)

    assert reply.status == 200 and reply.headers["Content-Type"] == AUTH
    body = reply.json()
    assert set(body) == {"role", "accessToken", "refreshToken"} and body["role"] == "API_USER"
    assert body["accessToken"] != access and body["refreshToken"] == refresh
    assert gw.methods(body["accessToken"]).status == 200
    assert gw.methods(access).status == 200  # the old one lives until its own expiry
    counters = server.control.counters()
    assert counters["tokens_refreshed"] == 1 and counters["tokens_issued"] == 1


def test_refresh_extends_the_token_lifetime(gw: GatewayClient, server: SandboxServer) -> None:
    access, refresh = gw.tokens()
    server.control.set_faults(clock_skew_seconds=200)
    refreshed = gw.refresh(refresh).json()["accessToken"]

    server.control.set_faults(clock_skew_seconds=400)

    assert_gateway_error(gw.methods(access), 401, "TOKEN_EXPIRED")
    assert gw.methods(refreshed).status == 200


def test_refresh_requires_the_accept_header(gw: GatewayClient) -> None:
    _, refresh = gw.tokens()
    assert_gateway_error(gw.refresh(refresh, accept=None), 405, "UNSUPPORTED_ACCEPT")
    assert_gateway_error(gw.refresh(refresh, accept="application/json"), 405, "UNSUPPORTED_ACCEPT")
    assert gw.refresh(refresh, accept=f"application/json;q=0.5, {AUTH}").status == 200


def test_refresh_with_wrong_content_type_is_405(gw: GatewayClient) -> None:
    _, refresh = gw.tokens()
    assert_gateway_error(gw.refresh(refresh, content_type="application/json"), 405, "UNSUPPORTED_MEDIA_TYPE")


def test_refresh_with_wrong_method_is_405(gw: GatewayClient) -> None:
    assert_gateway_error(gw.request("PUT", "/api/pay1st/auth/refresh"), 405, "METHOD_NOT_ALLOWED")


def test_refresh_with_unknown_refresh_token_is_401(gw: GatewayClient) -> None:
    access, _ = gw.tokens()
    assert_gateway_error(gw.refresh("rt+not-a-token"), 401, "INVALID_REFRESH_TOKEN")
    assert_gateway_error(gw.refresh(access), 401, "INVALID_REFRESH_TOKEN")


def test_refresh_with_wrong_role_is_401_and_missing_fields_400(gw: GatewayClient) -> None:
    _, refresh = gw.tokens()
    assert_gateway_error(gw.refresh(refresh, role="ADMIN"), 401, "INVALID_ROLE")
    assert_gateway_error(gw.refresh(refresh, body=b'{"role":"API_USER"}'), 400, "INVALID_REQUEST")
    assert_gateway_error(gw.refresh(refresh, body=b"{"), 400, "INVALID_JSON")


def test_refresh_with_wrong_basic_credentials_is_401(gw: GatewayClient) -> None:
    _, refresh = gw.tokens()
    wrong = {"Authorization": basic("pk_sandbox_local", "nope")}
    assert_gateway_error(gw.refresh(refresh, extra_headers=wrong), 401, "INVALID_CREDENTIALS")
    right = {"Authorization": basic("pk_sandbox_local", "sk_sandbox_local_secret")}
    assert gw.refresh(refresh, extra_headers=right).status == 200


def test_refresh_token_expires(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox(refresh_token_lifetime=600)
    gw = GatewayClient(server.base_url)
    _, refresh = gw.tokens()
    server.control.set_faults(clock_skew_seconds=601)
    assert_gateway_error(gw.refresh(refresh), 401, "REFRESH_TOKEN_EXPIRED")


def test_expire_tokens_revokes_access_and_refresh_tokens(gw: GatewayClient, server: SandboxServer) -> None:
    access, refresh = gw.tokens()
    server.control.expire_tokens()
    assert_gateway_error(gw.methods(access), 401, "INVALID_TOKEN")
    assert_gateway_error(gw.refresh(refresh), 401, "INVALID_REFRESH_TOKEN")
    assert gw.methods(gw.access_token()).status == 200


def test_expire_tokens_can_keep_refresh_tokens(gw: GatewayClient, server: SandboxServer) -> None:
    access, refresh = gw.tokens()
    server.control.expire_tokens(refresh_tokens=False)
    assert_gateway_error(gw.methods(access), 401, "INVALID_TOKEN")
    assert gw.methods(gw.refresh(refresh).json()["accessToken"]).status == 200


# -- §5 the AccessToken header, and token age --


def test_missing_access_token_is_401(gw: GatewayClient) -> None:
    assert_gateway_error(gw.methods(None), 401, "MISSING_TOKEN")


def test_authorization_header_is_not_the_access_token_header(gw: GatewayClient) -> None:
    token = gw.access_token()
    reply = gw.request(
        "GET",
        "/api/pay1st/payments/methods?countryCode=ZA",
        headers={"Content-Type": CHANNEL, "Authorization": f"Bearer {token}"},
    )
    assert_gateway_error(reply, 401, "MISSING_TOKEN")


@pytest.mark.parametrize("header", ["{token}", "Token {token}", "Bearer ", "Bearer at+unknown/x="])
def test_malformed_or_unknown_access_token_is_401(gw: GatewayClient, header: str) -> None:
    token = gw.access_token()
    reply = gw.request(
        "GET",
        "/api/pay1st/payments/methods?countryCode=ZA",
        headers={"Content-Type": CHANNEL, "AccessToken": header.format(token=token)},
    )
    assert_gateway_error(reply, 401, "INVALID_TOKEN")


def test_access_token_expires_after_five_minutes(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    server.control.set_faults(clock_skew_seconds=299)
    assert gw.methods(token).status == 200
    server.control.set_faults(clock_skew_seconds=301)
    assert_gateway_error(gw.methods(token), 401, "TOKEN_EXPIRED")
    assert_gateway_error(gw.create(token, payment_body()), 401, "TOKEN_EXPIRED")


def test_token_lifetime_fault_shortens_the_lifetime(gw: GatewayClient, server: SandboxServer) -> None:
    token = gw.access_token()
    server.control.set_faults(token_lifetime=10, clock_skew_seconds=11)
    assert_gateway_error(gw.methods(token), 401, "TOKEN_EXPIRED")
    server.control.set_faults(token_lifetime=None)
    assert gw.methods(token).status == 200
