"""The layer's core imports no boto3 and no Lambda code; the AWS adapters sit beside it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pay1st

LAYER_ROOT = Path(pay1st.__file__).resolve().parents[1]
FORBIDDEN = ("boto3", "botocore", "aws_lambda_powertools", "awslambdaric", "pay1st.aws", "pay1st_partner")


def core_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(pay1st.__path__, prefix="pay1st.")
        if not info.name.startswith("pay1st.aws")
    ]
    return ["pay1st", *sorted(names)]


def loaded_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code], cwd=LAYER_ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(result.stdout))


def test_every_core_module_is_covered() -> None:
    assert {"pay1st.client", "pay1st.webhooks", "pay1st.tokens", "pay1st.models", "pay1st.signing"} <= set(
        core_modules()
    )


def test_core_imports_neither_boto3_nor_powertools() -> None:
    loaded = loaded_after_importing(core_modules())
    offending = [name for name in loaded if name.split(".")[0] in FORBIDDEN or name.startswith(FORBIDDEN)]
    assert offending == []
    assert "urllib3" in loaded  # the one third-party dependency of the core


def test_the_adapters_are_importable_beside_the_core() -> None:
    loaded = loaded_after_importing(["pay1st.aws"])
    assert "boto3" in loaded and "aws_lambda_powertools.utilities.parameters" in loaded
