"""The real template on a running local stack (moto + Pay1st sandbox + worker processes), free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_stack.stack import LocalStack

from tests.local.local_kit import running_stack


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One stack per test module (moto's state is per process, so never two at once)."""
    with running_stack(tmp_path_factory, "local-stack", prewarm=True) as stack:
        yield stack
