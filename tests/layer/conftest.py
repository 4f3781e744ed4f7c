"""Fixtures of the layer tests: a scripted fake gateway on loopback and a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from layer_fakes import FakeClock, FakeGateway


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    server = FakeGateway().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
