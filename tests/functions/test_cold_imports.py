"""What each handler module imports at cold start: only Powertools and the light shared modules.

The use cases, reconciliation, the gateway client, its models and the AWS adapters are imported by the
first request, and no function loads Powertools' event handler package (its ``__init__`` imports every
resolver; ``pay1st_partner.api`` routes HTTP API events itself) nor its batch and event data classes
(the SQS consumer builds its processor on the first batch). That keeps the cold import within the
<= 1.2x ``import boto3`` budget that ``bench/cold_start.py`` measures. This test checks the structure
(which modules are loaded), not timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file())

# Loaded on the first request instead (each costs milliseconds to tens of milliseconds of cold start).
DEFERRED = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "boto3",
    "pay1st.aws",
    "pay1st.client",
    "pay1st.models",
    "pay1st_partner.events",
    "pay1st_partner.payments.fulfilment",
    "pay1st_partner.webhooks.intake",
    "pay1st_partner.payments.methods",
    "pay1st_partner.payments.create",
    "pay1st_partner.poller",
    "pay1st_partner.payments.reconcile",
    "pay1st_partner.payments.repository",
    "pay1st_partner.webhooks.event_store",
)

_PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
print(json.dumps(sorted(sys.modules)))
"""


def test_every_function_is_checked() -> None:
    assert len(FUNCTIONS) == 9


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_handler_module_defers_the_heavy_imports_to_the_first_request(function: str) -> None:
    out = subprocess.run(  # noqa: S603 - our own interpreter importing our own module
        [sys.executable, "-c", _PROBE, str(ROOT / "functions" / function), str(ROOT / "layers" / "pay1st")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_SERVICE_NAME": "pay1st"},
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert sorted(name for name in DEFERRED if name in loaded) == []
