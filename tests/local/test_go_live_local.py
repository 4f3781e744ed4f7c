"""``make go-live-check`` against the local stack fails with the right diagnosis when the gateway signs webhooks
with a scheme the stack does not accept (test_go_live_passes: it passes otherwise); the Makefile target."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from go_live.__main__ import check_target
from go_live.context import Options
from go_live.local_target import target_of
from go_live.partner_steps import without_token
from go_live.report import step_line
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT

from tests.local.local_kit import running_stack

MAKE = shutil.which("make") or "make"


def test_make_go_live_check_runs_the_go_live_package_with_its_variables() -> None:
    dry = subprocess.run(  # noqa: S603 - make with fixed arguments, dry run
        [MAKE, "-n", "go-live-check", "STACK=prod-stack", "COUNTRIES=ZA", "COMPARE_WITH=sbx-stack"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = dry.replace("\\\n", " ")
    assert "PYTHONPATH=.:tools:local:layers/pay1st .venv/bin/python -m go_live --countries ZA" in command
    assert "--stack prod-stack" in command and "--compare-with sbx-stack" in command
    local = subprocess.run(  # noqa: S603 - make with fixed arguments, dry run
        [MAKE, "-n", "go-live-check"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "-m go_live --countries NG,ZA" in local and "--stack" not in local


@pytest.fixture(scope="module")
def signing_key_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A stack that accepts only signing-key webhooks (the fixture of the scheme-refused tests)."""
    overrides = {"WebhookSignatureMode": "signing-key"}
    with running_stack(tmp_path_factory, "local-stack", parameter_overrides=overrides) as stack:
        yield stack


def test_go_live_check_fails_naming_the_scheme_that_would_accept_the_webhooks(
    signing_key_stack: LocalStack,
) -> None:
    stack = signing_key_stack
    assert stack.sandbox is not None
    # Given a stack in WebhookSignatureMode=signing-key and a gateway that signs with basic-auth
    stack.sandbox.control.set_webhook_signing("basic-auth")
    out, err = io.StringIO(), io.StringIO()
    # When the go-live check runs (JSON, as a pipeline would read it)
    report = check_target(target_of(stack), Options(countries=("ZA",)), as_json=True, out=out, err=err)
    result = json.loads(out.getvalue())
    # Then it fails at the webhook step, with the kept rejection's diagnosis and the mode that would accept it
    assert report.ok is False and result["ok"] is False
    statuses = {s["id"]: s["status"] for s in result["steps"]}
    assert statuses["create"] == "passed" and statuses["webhook"] == "failed"
    assert statuses["status"] == statuses["fulfilment"] == "skipped"
    webhook = next(s for s in result["steps"] if s["id"] == "webhook")
    assert webhook["reason"].startswith("rejected (missing_signature): X-SIGNATURE without X-TIMESTAMP")
    assert "basic-auth would accept it" in webhook["reason"]
    assert webhook["fix"].startswith(
        "set WebhookSignatureMode=basic-auth or any (Pay1st signs with basic-auth)"
    )
    assert webhook["details"]["wouldAcceptWith"] == ["basic-auth", "any"]
    assert webhook["details"]["headerNames"] == ["X-SIGNATURE"]
    assert webhook["details"]["eventId"].startswith("rejected#")
    # And the text form says the same to a person
    rendered = "".join(step_line(each) for each in report.steps) + report.summary()
    assert " ✗  7. webhook arrives (§10)" in rendered
    assert "fix: set WebhookSignatureMode=basic-auth or any" in rendered
    assert rendered.splitlines()[-1].startswith("FAILED: 8 passed, 1 failed, 2 skipped, 2 not applicable")


def test_the_checkout_link_is_shown_without_its_access_token() -> None:
    link = "https://pay.stage.carry1st.com/checkout?channelId=7&reference=C-1-P&accessToken=abc%2B%2F%3D"
    shown = without_token(link)
    assert shown == "https://pay.stage.carry1st.com/checkout?channelId=7&reference=C-1-P&accessToken=<hidden>"
