"""§15 which reference a refund names: by default the payment's C-…-P reference; in the transaction-reference
mode a C-…-T transaction id that the sandbox shows in its answers and webhooks, and refunds naming the
C-…-P are refused (400 UNKNOWN_REFERENCE: §15 is silent on the error; see the sandbox README)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pay1st_sandbox import SandboxControlError, SandboxServer
from sandbox_kit import GatewayClient, WebhookReceiver, assert_gateway_error
from test_sandbox_refunds import paid, refund, refund_body, refund_hooks

TRANSACTION_ID = re.compile(r"^C-\d{15}-T$")


def transaction_server(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver, **config: Any
) -> tuple[SandboxServer, GatewayClient]:
    server = start_sandbox(default_webhook_url=receiver.url, refund_settle_seconds=0.05, **config)
    return server, GatewayClient(server.base_url)


def test_by_default_no_transaction_id_is_shown_and_a_t_reference_is_unknown(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    """Given the default mode, when a payment is created, queried, paid and refunded by a C-…-T, then no
    document carries a transactionReference and the refund is refused as an unknown reference."""
    server, gw = transaction_server(start_sandbox, receiver)
    token, created = paid(gw, server, receiver)
    assert "transactionReference" not in created
    assert "transactionReference" not in gw.status(token, created["reference"]).json()
    assert "transactionReference" not in receiver.received[-1].json()
    t_reference = created["reference"].replace("-P", "-T")
    body = refund_body(t_reference, receiver)
    assert_gateway_error(refund(gw, token, body), 400, "UNKNOWN_REFERENCE")
    assert refund(gw, token, refund_body(created["reference"], receiver)).status == 201


def test_transaction_mode_shows_a_t_id_in_answers_and_webhooks(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    """Given the transaction-reference mode, when a payment is created, queried and paid, then its 201 answer,
    its status query and its webhook all carry the same C-…-T transactionReference (digits unlike its own)."""
    server, gw = transaction_server(start_sandbox, receiver, refund_reference="transaction")
    token, created = paid(gw, server, receiver)
    transaction = created["transactionReference"]
    assert TRANSACTION_ID.match(transaction)
    assert transaction.removesuffix("-T") != created["reference"].removesuffix("-P")
    assert gw.status(token, created["reference"]).json()["transactionReference"] == transaction
    assert receiver.received[-1].json()["transactionReference"] == transaction
    assert server.control.payment(created["reference"])["transactionReference"] == transaction


def test_transaction_mode_refuses_refunds_naming_the_payment_reference(
    start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver
) -> None:
    """Given the transaction-reference mode and a paid payment, when a refund names its C-…-P reference, then
    it is refused with 400 UNKNOWN_REFERENCE; when it names the C-…-T, then it is made, and its answer and
    webhooks name the C-…-T; a full refund still moves the payment to REFUND."""
    server, gw = transaction_server(start_sandbox, receiver, refund_reference="transaction")
    token, created = paid(gw, server, receiver)
    refused = assert_gateway_error(refund(gw, token, refund_body(created["reference"], receiver)), 400)
    assert refused["errorCode"] == "UNKNOWN_REFERENCE" and "transaction" in refused["errorMessage"]
    assert server.control.refunds() == []

    transaction = created["transactionReference"]
    made = refund(gw, token, refund_body(transaction, receiver, amount=None))
    assert made.status == 201 and made.json()["transactionReference"] == transaction
    hooks = refund_hooks(receiver, 2)
    assert {hook.json()["transactionReference"] for hook in hooks} == {transaction}
    listed = server.control.refunds()[0]
    assert listed["paymentReference"] == created["reference"] and listed["status"] == "SUCCESSFUL"
    assert gw.status(token, created["reference"]).json()["status"] == "REFUND"


def test_the_mode_switches_at_run_time(
    gw: GatewayClient, server: SandboxServer, receiver: WebhookReceiver
) -> None:
    """Given the default configuration, when the fault refund_reference is set to "transaction" and back to
    null, then the status query shows the transaction id only meanwhile; nonsense is refused."""
    token, created = gw.new_payment()
    server.control.set_faults(refund_reference="transaction")
    assert TRANSACTION_ID.match(gw.status(token, created["reference"]).json()["transactionReference"])
    server.control.set_faults(refund_reference=None)
    assert "transactionReference" not in gw.status(token, created["reference"]).json()
    with pytest.raises(SandboxControlError) as bad:
        server.control.set_faults(refund_reference="both")
    assert (bad.value.status, bad.value.code) == (400, "INVALID_FAULT")


def test_the_command_line_chooses_the_mode() -> None:
    from pay1st_sandbox.__main__ import parse_args

    assert parse_args([]).refund_reference == "payment"
    assert parse_args(["--refund-reference", "transaction"]).refund_reference == "transaction"
    with pytest.raises(ValueError, match="refund_reference"):
        from pay1st_sandbox import SandboxConfig

        SandboxConfig(refund_reference="both")


def test_every_flag_sets_its_config_field() -> None:
    """Given the sandbox's command line, When it becomes the config, Then each flag sets the SandboxConfig
    field of its name (the webhook retry flags their longer names; --offline-settle-seconds 0 the config's
    None, settling only through the control API)."""
    from pay1st_sandbox.__main__ import config_from, parse_args

    argv = ["--webhook-attempts", "3", "--webhook-backoff", "0.5", "--webhook-backoff-cap", "9"]
    argv += ["--offline-settle-seconds", "0", "--seed", "7", "--refund-reference", "transaction"]
    config = config_from(parse_args([*argv, "--token-lifetime", "20", "--refund-settle-seconds", "1"]))
    assert (config.webhook_max_attempts, config.webhook_backoff_base, config.webhook_backoff_cap) == (
        3,
        0.5,
        9.0,
    )
    assert (config.offline_settle_seconds, config.seed, config.refund_reference) == (None, 7, "transaction")
    assert (config.token_lifetime, config.refund_settle_seconds) == (20.0, 1.0)
    assert config_from(parse_args([])).offline_settle_seconds == 30.0
