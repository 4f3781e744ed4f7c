"""The control and inspection API, the server's life cycle and the standalone command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pay1st_sandbox
import pytest
import urllib3
from pay1st_sandbox import SandboxConfig, SandboxControl, SandboxControlError, SandboxServer
from sandbox_kit import GatewayClient


def test_counters_count_routes_and_domain_events(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment()
    gw.methods(token, "NG")
    gw.status(token, created["reference"])
    gw.status(token, created["reference"])
    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(5)

    counters = server.control.counters()

    assert counters["POST /api/pay1st/auth/token"] == 1
    assert counters["POST /api/pay1st/payments/create"] == 1
    assert counters["GET /api/pay1st/payments/methods"] == 1
    assert counters["GET /api/pay1st/payments"] == 2
    assert counters["requests"]["GET /api/pay1st/payments"] == 2
    assert not any(route.startswith(("GET /_sandbox", "POST /_sandbox")) for route in counters["requests"])
    assert (counters["tokens_issued"], counters["payments_created"], counters["status_changes"]) == (1, 1, 1)
    assert (counters["webhooks_sent"], counters["webhook_attempts"]) == (1, 1)
    assert counters["tokens_refreshed"] == 0 and counters["fulfilments_received"] == 0


def test_error_codes_are_counted(gw: GatewayClient, server: SandboxServer) -> None:
    gw.token(secret="wrong")
    gw.token(secret="wrong")
    assert server.control.counters()["errors"] == {"INVALID_CREDENTIALS": 2}


def test_reset_counters(gw: GatewayClient, server: SandboxServer) -> None:
    gw.token()
    server.control.reset_counters()
    counters = server.control.counters()
    assert counters["tokens_issued"] == 0 and counters["requests"] == {}


def test_payments_and_their_history(gw: GatewayClient, server: SandboxServer) -> None:
    _, first = gw.new_payment()
    _, second = gw.new_payment()
    server.control.settle(second["reference"], "offline")

    listed = server.control.payments()
    by_partner_reference = server.control.payment(second["partnerReference"])

    assert [p["reference"] for p in listed] == [first["reference"], second["reference"]]
    assert by_partner_reference == server.control.payment(second["reference"])
    assert [h["status"] for h in by_partner_reference["history"]] == ["NEW", "PENDING"]
    assert by_partner_reference["statusDocument"]["status"] == "PENDING"
    assert str(by_partner_reference["amount"]) == "250.5"
    with pytest.raises(SandboxControlError) as missing:
        server.control.payment("nope")
    assert (missing.value.status, missing.value.code) == (404, "UNKNOWN_PAYMENT")


def test_in_process_state_is_inspectable(gw: GatewayClient, server: SandboxServer) -> None:
    _, created = gw.new_payment()
    payment = server.state.payment(created["reference"])
    assert payment is not None and payment.status == "NEW"


def test_config_is_shown_without_credentials(server: SandboxServer) -> None:
    config = server.control.config()
    assert config["token_lifetime"] == 300 and config["partner_id"] == 4242
    text = repr(config) + repr(server.config)
    assert "sk_sandbox" not in text and "pk_sandbox_local" not in text


def test_reset_forgets_everything(gw: GatewayClient, server: SandboxServer) -> None:
    token, created = gw.new_payment()
    server.control.set_faults(latency=0.01)
    server.control.settle(created["reference"], "pay")
    server.control.flush_webhooks(5)

    server.control.reset()

    assert server.control.payments() == [] and server.control.webhook_deliveries() == []
    assert server.control.faults()["latency"] == {} and server.control.counters()["tokens_issued"] == 0
    assert gw.methods(token).status == 401


def test_control_api_errors(gw: GatewayClient, server: SandboxServer) -> None:
    assert gw.request("GET", "/_sandbox/nothing").json() == {
        "code": "NOT_FOUND",
        "message": "no such control route",
    }
    assert gw.request("PUT", "/_sandbox/faults").status == 405
    for body in (b"{", b"[" * 100_000):
        reply = gw.request(
            "POST", "/_sandbox/faults", body=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status == 400 and reply.json()["code"] == "INVALID_JSON"
    reply = gw.request("POST", "/_sandbox/faults", body=b"rate_429=1", headers={"Content-Type": "text/plain"})
    assert reply.status == 415
    reply = gw.request(
        "POST",
        "/_sandbox/webhooks/flush",
        body=b'{"timeout":"soon"}',
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 400


def test_control_client_works_from_its_own_base_url(server: SandboxServer) -> None:
    control = SandboxControl(server.base_url + "/")
    assert control.health() and repr(control) == f"SandboxControl('{server.base_url}')"


def test_server_lifecycle() -> None:
    server = SandboxServer(SandboxConfig(), port=0)
    with pytest.raises(RuntimeError):
        _ = server.port
    with server:
        port = server.port
        assert server.base_url == f"http://127.0.0.1:{port}"
        assert server.control.health()
    # Stopped: the port no longer answers.
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.PoolManager(retries=False).request("GET", f"http://127.0.0.1:{port}/", timeout=1)


def test_custom_credentials(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox(api_key="pk_custom", api_secret="sk_custom", signing_key="sign_custom")
    gw = GatewayClient(server.base_url, signing_key="sign_custom")
    assert gw.token().status == 401
    assert gw.token(key="pk_custom", secret="sk_custom").status == 200
    token = gw.token(key="pk_custom", secret="sk_custom").json()["accessToken"]
    assert gw.new_payment(token)[1]["status"] == "NEW"


def test_config_from_env_and_overrides() -> None:
    env = {"PAY1ST_SANDBOX_API_KEY": "pk_env", "PAY1ST_SANDBOX_SIGNING_KEY": "sign_env"}
    config = SandboxConfig.from_env(env, api_key="pk_flag", seed=None)
    assert (config.api_key, config.api_secret, config.signing_key) == (
        "pk_flag",
        "sk_sandbox_local_secret",
        "sign_env",
    )
    with pytest.raises(TypeError):
        SandboxConfig.from_env({}, colour="blue")
    with pytest.raises(ValueError):
        SandboxConfig(webhook_max_attempts=0)


def test_standalone_command() -> None:
    root = Path(pay1st_sandbox.__file__).parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "local"),
        "PAY1ST_SANDBOX_API_KEY": "pk_from_env",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pay1st_sandbox", "--port", "0", "--seed", "7"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("Pay1st sandbox listening on http://127.0.0.1:"), banner
        base_url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        assert "custom" in (line := process.stdout.readline()) and "pk_from_env" not in line
        gw = GatewayClient(base_url)
        assert gw.token(key="pk_from_env").status == 200
        assert gw.token().status == 401
        assert SandboxControl(base_url).config()["seed"] == 7
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
