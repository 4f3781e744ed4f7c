"""What the check runs against: a deployed stack (read with boto3) or the local stack (``local_target``).

A :class:`Target` is the stack's parameters and outputs, a way to read its credentials secret and its
webhook records, and the partner's client of its API (``pay1st_partner_client``, signing as the partner's
backend does: SigV4 with the caller's AWS credentials, or a JWT). The local target adds what only a local
stack can do: pay at the sandbox and follow the callback the hosted page would redirect to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from pay1st_partner_client import BearerAuth, PartnerClient, SigV4Auth

JWT_ENVIRONMENT_VARIABLE = "PAY1ST_PARTNER_JWT"  # the bearer token for a PartnerAuth=JWT stack
PARTNER_ATTEMPTS = (
    2  # one retry of a throttled or failed call; the check wants to see problems, not hide them
)


class TargetError(Exception):
    """The stack cannot be checked at all (not found, no AWS credentials): said in one line, exit 2."""


@dataclass
class Target:
    name: str
    local: bool
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    read_secret: Callable[[], str]  # the credentials secret's SecretString
    dynamodb: Any  # a boto3 DynamoDB client that can read the WebhookEventsTable
    partner_api: PartnerClient | None  # None: partner_auth_problem says why it cannot authenticate
    partner_auth_problem: str | None = None
    # Local only: pay a payment at the gateway (by Pay1st reference) as a customer would; returns a description.
    pay: Callable[[str], str] | None = None
    # Local only: the success callback URL the hosted page redirects the browser to, for a Pay1st reference.
    callback_url: Callable[[str], str | None] | None = None
    # Deployed only: an SNS client, to see who the alarm topic reaches (placeholder_steps).
    sns: Any = None
    http: urllib3.PoolManager = field(
        default_factory=lambda: urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=5, read=30)
        )
    )

    @property
    def environment(self) -> str:
        return self.parameters.get("Environment", "sandbox")

    @property
    def api_url(self) -> str:
        return self.outputs.get("ApiUrl", "").rstrip("/")

    def describe(self) -> dict[str, Any]:
        """For the report's header: names and settings, never a secret."""
        return {
            "name": self.name,
            "Environment": self.environment,
            "gateway": self.parameters.get("Pay1stApiBaseUrl"),
            "WebhookSignatureMode": self.parameters.get("WebhookSignatureMode"),
            "PartnerAuth": self.parameters.get("PartnerAuth"),
        }


# ------------------------------------------------------------------------------------- a deployed stack
def stack_description(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    """``describe_stacks`` of one stack, or a :class:`TargetError` saying why it cannot be read."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise TargetError(f"cannot read stack {stack_name!r}: {message}") from None
    except BotoCoreError as exc:  # no credentials, no region, no network
        raise TargetError(f"cannot read stack {stack_name!r}: {exc}") from None
    if not stacks:
        raise TargetError(f"stack {stack_name!r} not found")
    stack: dict[str, Any] = stacks[0]
    return stack


def parameters_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}


def outputs_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def deployed_target(stack_name: str, session: Any) -> Target:
    """A deployed stack, through ``session`` (a boto3 Session: the caller's credentials and region)."""
    stack = stack_description(session.client("cloudformation"), stack_name)
    parameters, outputs = parameters_of(stack), outputs_of(stack)
    missing = [
        name for name in ("ApiUrl", "CredentialsSecretName", "WebhookEventsTableName") if name not in outputs
    ]
    if missing:
        raise TargetError(f"stack {stack_name!r} has no output {', '.join(missing)}: is it this bundle?")
    secrets = session.client("secretsmanager")
    client, problem = _partner_client(session, parameters.get("PartnerAuth", "AWS_IAM"), outputs["ApiUrl"])

    def read_secret() -> str:
        value: str = secrets.get_secret_value(SecretId=outputs["CredentialsSecretName"])["SecretString"]
        return value

    return Target(
        name=f"stack {stack_name}",
        local=False,
        parameters=parameters,
        outputs=outputs,
        read_secret=read_secret,
        dynamodb=session.client("dynamodb"),
        partner_api=client,
        partner_auth_problem=problem,
        sns=session.client("sns"),
    )


def _partner_client(session: Any, partner_auth: str, api_url: str) -> tuple[PartnerClient | None, str | None]:
    """The partner's client of the API, authenticated as ``PartnerAuth`` says; or None and why not."""
    if partner_auth == "JWT":
        token = os.environ.get(JWT_ENVIRONMENT_VARIABLE)
        if not token:
            return None, f"PartnerAuth=JWT and no token in ${JWT_ENVIRONMENT_VARIABLE}"
        return PartnerClient(api_url, BearerAuth(token), max_attempts=PARTNER_ATTEMPTS), None
    region = session.region_name or _region_of(api_url)
    if not region:
        return None, "no AWS region to sign for: set AWS_REGION to the stack's region"
    credentials = session.get_credentials()
    if credentials is None:
        return None, "no AWS credentials found to sign with (PartnerAuth=AWS_IAM)"
    return PartnerClient(
        api_url, SigV4Auth(region, credentials=credentials), max_attempts=PARTNER_ATTEMPTS
    ), None


def _region_of(api_url: str) -> str | None:
    """``eu-west-1`` from ``https://abc.execute-api.eu-west-1.amazonaws.com``; None for a custom domain."""
    parts = (urlsplit(api_url).hostname or "").split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "execute-api" else None
