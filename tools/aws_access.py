"""How the tools that talk to a deployed stack (``go_live``, ``pay1st_ops``) reach AWS: which stack, region,
profile and credentials, as ``sam`` itself would with ``--config-env``.

The samconfig.toml environment a stack belongs to is ``--env NAME`` (``make … ENV=NAME`` passes it), or,
without it, the environment whose ``stack_name`` is the ``--stack`` given. That environment then supplies what
was not given, as sam's config does:

- the stack: ``--stack``, else the environment's ``stack_name``;
- the region: ``--region``, else the environment's ``region`` (where ``make deploy`` put the stack, whatever
  ``AWS_REGION`` says for other work), else the SDKs' chain (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
  profile's ``region``);
- the profile: ``--profile``, else the environment's ``profile`` if it sets one, else ``AWS_PROFILE`` or the
  default credentials chain.

What cannot be resolved (no region anywhere, no credentials, an unknown profile or environment) is one line
saying what to set (:class:`AccessError`), never botocore's traceback.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"

SET_REGION = "pass --region, or --env <samconfig environment> (its region), or set AWS_REGION"
SET_CREDENTIALS = (
    "set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or run `aws sso login` / `aws configure`"
)


class AccessError(Exception):
    """AWS cannot be reached as asked: the message is one line saying what to set."""


@dataclass(frozen=True)
class StackAccess:
    stack: str | None
    session: Any  # boto3.Session
    region: str
    environment: str | None  # the samconfig.toml environment it was resolved with


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--env",
        metavar="NAME",
        help="the samconfig.toml environment (sandbox, production): its stack_name and region are the defaults",
    )
    parser.add_argument(
        "--region", help="the stack's AWS region (default: the environment's, then AWS_REGION)"
    )
    parser.add_argument("--profile", help="an AWS profile from ~/.aws/config (default: AWS_PROFILE)")


def samconfig_environments(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """``{environment: its global parameters}`` (stack_name, region, profile) from samconfig.toml."""
    path = path or SAMCONFIG
    if not path.exists():
        return {}
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    found = {}
    for name, value in config.items():
        if isinstance(value, dict):
            found[name] = dict(value.get("global", {}).get("parameters", {}))
    return found


def _environment(env: str | None, stack: str | None) -> tuple[str | None, dict[str, Any]]:
    environments = samconfig_environments()
    if env:
        if env not in environments:
            known = ", ".join(sorted(n for n in environments if n != "default")) or "none"
            raise AccessError(f"--env {env}: samconfig.toml has no such environment (it has {known})")
        return env, environments[env]
    if stack:
        for name, values in sorted(environments.items(), key=lambda item: item[0] == "default"):
            if values.get("stack_name") == stack:
                return name, values
    return None, {}


def resolve(
    stack: str | None,
    *,
    env: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    need_stack: bool = True,
) -> StackAccess:
    """The stack, a boto3 Session with its region and credentials, or an :class:`AccessError`."""
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    environment, values = _environment(env, stack)
    stack = stack or (str(values["stack_name"]) if values.get("stack_name") else None)
    if need_stack and not stack:
        raise AccessError("which stack? pass --stack NAME, or --env <samconfig environment> (its stack_name)")
    profile = profile or (str(values["profile"]) if values.get("profile") else None)
    # The SDKs put AWS_REGION first; this botocore reads only AWS_DEFAULT_REGION and the profile's region.
    region = (
        region or (str(values["region"]) if values.get("region") else None) or os.environ.get("AWS_REGION")
    )
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise AccessError(
            f"AWS profile {profile!r} not found in ~/.aws/config or ~/.aws/credentials: "
            "pass --profile with one that exists (aws configure list-profiles)"
        ) from None
    if not session.region_name:
        raise AccessError(f"no AWS region for stack {stack or '?'}: {SET_REGION}")
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # a profile that cannot produce credentials (expired SSO, bad process)
        raise AccessError(f"AWS credentials could not be loaded ({exc}): {SET_CREDENTIALS}") from None
    if credentials is None:
        raise AccessError(f"no AWS credentials found: {SET_CREDENTIALS}")
    return StackAccess(stack, session, str(session.region_name), environment)


def explain(exc: Exception) -> str | None:
    """One line for a botocore error about the caller's set-up (region, credentials); None for others."""
    from botocore.exceptions import NoCredentialsError, NoRegionError, PartialCredentialsError

    if isinstance(exc, NoRegionError):
        return f"no AWS region: {SET_REGION}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return f"no AWS credentials found: {SET_CREDENTIALS}"
    return None
