"""The real template on a running local stack (moto + Pay1st sandbox + worker processes), free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_stack.stack import LocalStack, StackOptions


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One stack per test module (moto's state is per process, so never two at once)."""
    log_path: Path = tmp_path_factory.mktemp("local-stack") / "functions.log"
    with open(log_path, "w", encoding="utf-8") as function_log:
        options = StackOptions(
            api_port=0,
            moto_port=0,
            sandbox_port=0,
            function_log=function_log,
            prewarm=True,
            event_sources=False,
        )
        with LocalStack(options) as stack:
            yield stack
