"""The client finds its region as the AWS SDKs do, and names itself in every request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pay1st_partner_client
import pytest
from local_stack.partner_cli import credentials_text
from pay1st_partner_client import BearerAuth, PartnerClient, SigV4Auth


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No region anywhere: no environment, no profile, no config file."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    return monkeypatch


def test_the_environment_local_stack_credentials_prints_is_enough(no_aws_config: pytest.MonkeyPatch) -> None:
    # Given exactly what `python -m local_stack credentials` prints, exported
    for line in credentials_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        no_aws_config.setenv(name, value)
    # When the client is made the README's way
    client = PartnerClient("http://127.0.0.1:3000")
    # Then it signs for that region
    assert client._auth.region == "eu-west-1"  # type: ignore[attr-defined]


def test_aws_default_region_is_read_too(no_aws_config: pytest.MonkeyPatch) -> None:
    no_aws_config.setenv("AWS_DEFAULT_REGION", "af-south-1")
    assert SigV4Auth(access_key="AKIA", secret_key="s").region == "af-south-1"


def test_aws_region_comes_first_and_an_argument_before_both(no_aws_config: pytest.MonkeyPatch) -> None:
    no_aws_config.setenv("AWS_DEFAULT_REGION", "af-south-1")
    no_aws_config.setenv("AWS_REGION", "eu-west-1")
    assert SigV4Auth(access_key="AKIA", secret_key="s").region == "eu-west-1"
    assert SigV4Auth("us-east-1", access_key="AKIA", secret_key="s").region == "us-east-1"


def test_no_region_says_what_to_set(no_aws_config: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="set AWS_REGION \\(or AWS_DEFAULT_REGION"):
        SigV4Auth(access_key="AKIA", secret_key="s")


@dataclass
class _Http:
    """Stands in for urllib3's PoolManager: keeps the headers, answers one payment."""

    headers: list[dict[str, str]] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.headers.append(kwargs["headers"])
        body = {
            "partnerReference": "order-1",
            "status": "NEW",
            "amount": "1.00",
            "currencyCode": "ZAR",
            "countryCode": "ZA",
        }
        return type("R", (), {"status": 200, "data": json.dumps(body).encode(), "headers": {}})()


def test_every_request_names_the_client_and_its_version() -> None:
    http = _Http()
    PartnerClient("http://api", BearerAuth("t"), http=http).get_payment("order-1")  # type: ignore[arg-type]
    agent = http.headers[0]["User-Agent"]
    assert agent.startswith(f"pay1st-partner-client/{pay1st_partner_client.__version__} python/")
