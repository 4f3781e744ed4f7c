"""Fixtures for the sandbox's own tests: running sandboxes, a gateway client and a webhook receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pay1st_sandbox import SandboxConfig, SandboxServer
from sandbox_kit import GatewayClient, WebhookReceiver


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Factory: ``start_sandbox(**SandboxConfig fields)`` → a started server, stopped after the test."""
    servers: list[SandboxServer] = []

    def start(**config: Any) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**config), host="127.0.0.1", port=0).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def server(start_sandbox: Callable[..., SandboxServer], receiver: WebhookReceiver) -> SandboxServer:
    """A sandbox whose Console webhook URL is the test receiver and whose callbacks are under shop.test."""
    return start_sandbox(
        default_webhook_url=receiver.url, default_callback_base="https://shop.test/callbacks"
    )


@pytest.fixture
def gw(server: SandboxServer) -> GatewayClient:
    return GatewayClient(server.base_url)
