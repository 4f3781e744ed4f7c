"""samconfig.toml's environments deploy what the README documents: the template's defaults where they give none."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from local_stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
ENVIRONMENTS = sorted(name for name, value in CONFIG.items() if isinstance(value, dict) and "deploy" in value)


def overrides(environment: str) -> dict[str, str]:
    pairs = CONFIG[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_every_environment_is_read() -> None:
    assert ENVIRONMENTS == ["default", "production", "sandbox"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_webhook_signature_mode_is_the_documented_default(environment: str) -> None:
    # Given the template's default (README: `any` accepts both of Pay1st's signing schemes)
    default = load_template(ROOT / "template.yaml")["Parameters"]["WebhookSignatureMode"]["Default"]
    assert default == "any"
    # Then every environment deploys it: `required` (signing-key only) refuses every basic-auth webhook
    assert overrides(environment)["WebhookSignatureMode"] == default


def test_sync_deploys_what_deploy_deploys() -> None:
    sync = CONFIG["sandbox"]["sync"]["parameters"]
    assert dict(pair.split("=", 1) for pair in sync["parameter_overrides"]) == overrides("sandbox")
    assert sync["watch"] is True
