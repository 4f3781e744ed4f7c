"""The real template on a running local stack (moto + Pay1st sandbox + worker processes), free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_stack.aws import REGION
from local_stack.stack import LocalStack

from tests.conftest import untraced_aws_calls
from tests.local.local_kit import running_stack


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One stack per test module (moto's state is per process, so never two at once)."""
    with running_stack(tmp_path_factory, "local-stack") as stack:
        yield stack


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty in-process moto account, as a deployed stack's tools see AWS (test credentials, no endpoint)."""
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        untraced_aws_calls(monkeypatch)
        yield
