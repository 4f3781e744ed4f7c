"""pay1st_partner.runtime: the per-container objects, and credentials rotation reaching outbound calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from pay1st.errors import AuthenticationError
from pay1st.models import PaymentRequest, Product
from pay1st_partner import runtime
from pay1st_sandbox import SandboxConfig, SandboxServer

from tests.conftest import SECRET_NAME

ROTATED = {"apiKey": "pk_rotated", "apiSecret": "sk_rotated_secret", "signingKey": "sk_rotated_signing"}


@pytest.fixture
def rotated_sandbox(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    """A gateway that knows only the ROTATED credentials (the secret still holds the old ones)."""
    server = SandboxServer(
        SandboxConfig(
            api_key=ROTATED["apiKey"], api_secret=ROTATED["apiSecret"], signing_key=ROTATED["signingKey"]
        ),
        host="127.0.0.1",
        port=0,
    )
    server.start()
    monkeypatch.setenv("PAY1ST_API_BASE_URL", server.base_url)
    monkeypatch.setenv("PAY1ST_PAY_BASE_URL", server.base_url)
    runtime.reset()
    try:
        yield server
    finally:
        server.stop()


def _request(partner_reference: str) -> PaymentRequest:
    price = Decimal("250.50")
    return PaymentRequest(
        amount=price,
        country_code="ZA",
        currency_code="ZAR",
        partner_reference=partner_reference,
        products=(Product(title="500 Gems", sku="GEM-500", price=price, quantity=1, currency_code="ZAR"),),
    )


def test_rotated_credentials_reach_the_gateway_client_once_the_cached_secret_expires(aws, rotated_sandbox):
    # Given a warm container whose client holds the old credentials (refused by the rotated gateway)
    old = runtime.gateway()
    assert runtime.gateway() is old  # unchanged credentials: the same client, no rebuild
    with pytest.raises(AuthenticationError):
        old.create_payment(_request("order-old"))

    # When the secret is rotated, the client is kept while Powertools' cached copy is still fresh
    aws.secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=json.dumps(ROTATED))
    assert runtime.gateway() is old

    # Then once that copy expires (max_age), the next call builds a client with the new API key (token)
    # and the new signing key (the create's X-SIGNATURE), which the gateway accepts
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    new = runtime.gateway()
    assert new is not old
    assert new.create_payment(_request("order-new")).partner_reference == "order-new"
    assert runtime.gateway() is new
    # ... sharing the container's token store: the new token is in the SSM parameter for other containers
    stored = aws.ssm.get_parameter(Name=aws.env["TOKEN_PARAMETER_NAME"], WithDecryption=True)
    assert stored["Parameter"]["Value"]


def test_the_reconciler_is_built_once_per_container(aws):
    first = runtime.reconciler()
    assert runtime.reconciler() is first
    runtime.reset()
    assert runtime.reconciler() is not first


def test_threads_asking_at_once_share_one_boto3_client_per_service_and_one_gateway_client(aws):
    # Given a new container and eight threads (the status poller's checks) starting together
    runtime.reset()
    start = threading.Barrier(8)

    def first_use(_: int) -> tuple[Any, Any]:
        start.wait()
        return runtime.boto3_client("dynamodb"), runtime.gateway()

    # When each builds what it needs on first use
    with ThreadPoolExecutor(max_workers=8) as pool:
        built = list(pool.map(first_use, range(8)))
    # Then they all got the same boto3 client and the same gateway client (built once, never concurrently)
    assert len({id(client) for client, _ in built}) == 1
    assert len({id(gateway) for _, gateway in built}) == 1
    assert built[0][0] is runtime.boto3_client("dynamodb")
