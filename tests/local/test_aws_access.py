"""The tools that talk to a deployed stack (go_live, pay1st_ops) take --env, --region and --profile, default to
samconfig.toml's stack and region for the environment, and say in one line what to set when AWS cannot be
reached (no region, no credentials, an unknown profile or environment), never a botocore traceback."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import aws_access
import pytest
from aws_access import AccessError, resolve
from go_live.__main__ import main as go_live
from local_stack.template import PROJECT_ROOT
from moto import mock_aws
from pay1st_ops.__main__ import main as ops

from tests.conftest import untraced_aws_calls
from tests.local import test_ops_stack

Tool = Callable[..., int]
MAKE = shutil.which("make") or "make"
SAMCONFIG = """
[default.global.parameters]
stack_name = "shop-sandbox"
region = "eu-west-1"

[sandbox.global.parameters]
stack_name = "shop-sandbox"
region = "af-south-1"

[production.global.parameters]
stack_name = "shop-production"
region = "eu-central-1"
profile = "payments-prod"
"""


@pytest.fixture
def bare_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with no AWS set-up: no AWS_* variables, empty config files, no instance metadata."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("", encoding="utf-8")
    credentials.write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(SAMCONFIG, encoding="utf-8")
    monkeypatch.setattr(aws_access, "SAMCONFIG", samconfig)
    return tmp_path


def run(tool: Tool, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = tool(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("tool", [go_live, ops], ids=["go_live", "pay1st_ops"])
def test_no_region_anywhere_is_one_line_saying_what_to_set(bare_aws: Path, tool: Tool) -> None:
    # Given a stack named on the command line that no samconfig environment has, and no region set anywhere
    # When the tool runs against it (the old code crashed with botocore's NoRegionError traceback)
    code, out, err = run(tool, "--stack", "someone-elses-stack", *(["report"] if tool is ops else []))
    # Then it exits 2 with one line naming what to set
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "no AWS region for stack someone-elses-stack" in err
    assert "--region" in err and "--env" in err and "AWS_REGION" in err


@pytest.mark.parametrize("tool", [go_live, ops], ids=["go_live", "pay1st_ops"])
def test_no_credentials_is_one_line_saying_what_to_set(bare_aws: Path, tool: Tool) -> None:
    # Given a region (from --region) but no credentials anywhere
    code, out, err = run(
        tool, "--stack", "shop-sandbox", "--region", "eu-west-1", *(["report"] if tool is ops else [])
    )
    # Then one line says where credentials come from
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "no AWS credentials found" in err and "AWS_PROFILE" in err and "--profile" in err


@pytest.mark.parametrize("tool", [go_live, ops], ids=["go_live", "pay1st_ops"])
def test_an_unknown_profile_or_environment_is_one_line(bare_aws: Path, tool: Tool) -> None:
    extra = ["report"] if tool is ops else []
    code, _, err = run(tool, "--stack", "shop-sandbox", "--profile", "nobody", *extra)
    assert code == 2 and "AWS profile 'nobody' not found" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(tool, "--env", "staging", *extra)
    assert (
        code == 2
        and "--env staging: samconfig.toml has no such environment (it has production, sandbox)" in err
    )


def test_the_environment_gives_the_stack_region_and_profile_and_flags_win(
    bare_aws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given credentials in the environment, a region of the caller's own, and a profile production names
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    (bare_aws / "config").write_text("[profile payments-prod]\nregion = us-west-2\n", encoding="utf-8")
    (bare_aws / "credentials").write_text(
        "[payments-prod]\naws_access_key_id = prod\naws_secret_access_key = prod\n", encoding="utf-8"
    )
    # When resolved by --env, by the stack's name alone, and with flags
    by_env = resolve(None, env="sandbox")
    by_name = resolve("shop-sandbox")
    other = resolve("someone-elses-stack")
    flagged = resolve(None, env="sandbox", region="eu-north-1")
    production = resolve(None, env="production")
    # Then samconfig's environment supplies the stack and the region it was deployed to, as sam's config does
    assert (by_env.stack, by_env.region, by_env.environment) == ("shop-sandbox", "af-south-1", "sandbox")
    assert (by_name.region, by_name.environment) == ("af-south-1", "sandbox")  # not [default]'s
    # And a stack samconfig does not know uses the SDK's own region; --region beats everything
    assert (other.region, other.environment) == ("us-east-1", None)
    assert flagged.region == "eu-north-1"
    # And an environment's profile is used (its credentials and, region aside, its config)
    assert production.session.profile_name == "payments-prod" and production.region == "eu-central-1"
    assert production.session.get_credentials().access_key == "prod"
    with pytest.raises(AccessError, match="which stack"):
        resolve(None)


@pytest.fixture
def sandbox_stack_in_its_region(bare_aws: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The ops stack deployed as samconfig's sandbox environment, in its region (af-south-1), on moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(test_ops_stack, "STACK", "shop-sandbox")
    with mock_aws():
        untraced_aws_calls(monkeypatch)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "af-south-1")  # only while deploying
        test_ops_stack.deploy()
        monkeypatch.delenv("AWS_DEFAULT_REGION")
        yield


def test_ops_with_env_alone_reaches_the_stack_in_samconfigs_region(sandbox_stack_in_its_region: None) -> None:
    # Given the sandbox environment's stack in af-south-1 and no region set anywhere
    # When an operator names only the environment
    code, out, err = run(ops, "--env", "sandbox", "--json", "find", "--status", "NEW")
    # Then the command ran against that stack
    assert code == 0, err
    assert json.loads(out) == []


def test_go_live_with_env_alone_reads_the_stack_in_samconfigs_region(
    sandbox_stack_in_its_region: None,
) -> None:
    # Given the same stack (which is not a whole bundle: no go-live outputs)
    code, _, err = run(go_live, "--env", "sandbox")
    # Then the check found and read it in af-south-1 (and says what it lacks), rather than a region error
    assert code == 2 and "stack 'shop-sandbox' has no output ApiUrl" in err


def test_make_passes_env_to_the_tools() -> None:
    for target, wanted in (
        (["go-live-check", "ENV=sandbox"], "--env sandbox"),
        (["ops", "ENV=sandbox", "ARGS=report"], "--env sandbox report"),
    ):
        dry = subprocess.run(  # noqa: S603 - fixed arguments
            [MAKE, "-n", *target], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        assert wanted in dry.stdout, dry.stdout
