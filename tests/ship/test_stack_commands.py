"""`make deploy|sync|logs|delete ENV=`: refused before sam runs when the environment or its values cannot be
right, and `delete` says what it leaves; `browser-deps` honours CHROMIUM_PATH and offers apt-get only where
it exists."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from release import stack

ROOT = Path(__file__).resolve().parents[2]


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """make with the venv stamps taken as made: these targets must refuse before anything is installed."""
    return subprocess.run(  # noqa: S603 - fixed arguments
        ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", ".venv-checkov/.installed", *args],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={name: value for name, value in os.environ.items() if name != "CHROMIUM_PATH"},
    )


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_deploy_refuses_the_placeholders_samconfig_ships(environment: str) -> None:
    result = make("deploy", f"ENV={environment}")
    assert result.returncode != 0
    assert "ResultPageUrl=https://shop.example.com/payment-result is a placeholder" in result.stderr
    assert "AlarmEmail=payments-oncall@example.com is a placeholder" in result.stderr
    assert "sam build" not in result.stdout  # refused before building or deploying


def test_an_unknown_environment_is_refused_by_every_target() -> None:
    for target in ("deploy", "sync", "logs", "delete"):
        result = make(target, "ENV=staging")
        assert result.returncode != 0, target
        assert "ENV=staging: choose one of samconfig.toml's environments" in result.stderr, target


def test_sync_is_not_for_production() -> None:
    assert stack.check_sync("production") == [
        "sam sync skips change sets and review: not for production (make deploy ENV=production)"
    ]


def test_real_values_pass() -> None:
    values = {
        "ResultPageUrl": "https://shop.partner.co.za/payment-result",
        "AlarmEmail": "payments@partner.co.za",
        "PartnerAuth": "AWS_IAM",
    }
    assert stack.placeholders(values) == []
    assert stack.placeholders({"PartnerAuth": "JWT"}) == [
        "PartnerAuth=JWT with the placeholder JwtIssuer: set your issuer's URL"
    ]
    assert stack.placeholders({"ResultPageUrl": "https://pay.example.org/x"}) != []
    assert stack.placeholders({"ResultPageUrl": "https://notexample.com/x"}) == []


def test_delete_says_what_it_keeps() -> None:
    text = stack.kept("sandbox")
    assert "PaymentsTable (AWS::DynamoDB::Table): DeletionPolicy Retain" in text
    assert "WebhookEventsTable (AWS::DynamoDB::Table): DeletionPolicy Retain" in text
    assert "LocksTable" not in text  # no DeletionPolicy: it goes with the stack
    assert "/pay1st-partner-sandbox/pay1st/access-token" in text
    assert "deletes the credentials secret pay1st-partner-sandbox/pay1st/credentials" in text


def test_browser_deps_takes_chromium_path() -> None:
    assert make("browser-deps", "CHROMIUM_PATH=/bin/true").returncode == 0
    missing = make("browser-deps", "CHROMIUM_PATH=/nonexistent/chrome")
    assert missing.returncode != 0
    assert "CHROMIUM_PATH=/nonexistent/chrome is not an executable" in missing.stdout


def test_without_apt_get_it_says_what_to_do_instead(tmp_path: Path) -> None:
    # Given no Chromium where Debian puts it and no apt-get (macOS, Fedora...)
    result = make("browser-deps", "APT_GET=", f"DEBIAN_CHROMIUM={tmp_path / 'chromium'}")
    assert result.returncode != 0
    assert "apt-get" not in result.stdout
    assert "set CHROMIUM_PATH" in result.stdout
