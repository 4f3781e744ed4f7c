"""What the check runs against: a deployed stack (read with boto3) or the local stack (``local_target``).

A :class:`Target` is the stack's parameters and outputs, a way to read its credentials secret and its
webhook records, and a way to sign the partner API's requests. The local target adds what only a local
stack can do: pay at the sandbox and follow the callback the hosted page would redirect to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

JWT_ENVIRONMENT_VARIABLE = "PAY1ST_PARTNER_JWT"  # the bearer token for a PartnerAuth=JWT stack


class Signer(Protocol):
    def __call__(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` plus what authenticates this exact request to the partner routes."""


class TargetError(Exception):
    """The stack cannot be checked at all (not found, no AWS credentials): said in one line, exit 2."""


def sigv4_headers(
    method: str, url: str, body: bytes, headers: Mapping[str, str], *, credentials: Credentials, region: str
) -> dict[str, str]:
    """The one place partner API requests are signed: SigV4 for ``execute-api``, as the IAM authorizer wants."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class Target:
    name: str
    local: bool
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    read_secret: Callable[[], str]  # the credentials secret's SecretString
    dynamodb: Any  # a boto3 DynamoDB client that can read the WebhookEventsTable
    partner_headers: Signer
    partner_auth_problem: str | None = None  # why partner API calls cannot be authenticated, if known
    # Local only: pay a payment at the gateway (by Pay1st reference) as a customer would; returns a description.
    pay: Callable[[str], str] | None = None
    # Local only: the success callback URL the hosted page redirects the browser to, for a Pay1st reference.
    callback_url: Callable[[str], str | None] | None = None
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

    def partner(self, method: str, path: str, body: Any = None) -> tuple[int, Mapping[str, str], Any]:
        """A partner API call (signed); (status, headers, JSON body or None). Raises urllib3's HTTPError."""
        url = f"{self.api_url}{path}"
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data else {}
        signed = self.partner_headers(method, url, data, headers)
        response = self.http.request(method, url, body=data or None, headers=signed, redirect=False)
        try:
            document = json.loads(response.data) if response.data else None
        except ValueError:
            document = None
        return response.status, dict(response.headers), document

    def payment_path(self, partner_reference: str) -> str:
        return f"/payments/{quote(partner_reference, safe='')}"


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
    partner_auth = parameters.get("PartnerAuth", "AWS_IAM")

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
        partner_headers=_deployed_signer(session, partner_auth, outputs["ApiUrl"]),
        partner_auth_problem=_auth_problem(session, partner_auth, outputs["ApiUrl"]),
    )


def _deployed_signer(session: Any, partner_auth: str, api_url: str) -> Signer:
    if partner_auth == "JWT":
        token = os.environ.get(JWT_ENVIRONMENT_VARIABLE, "")

        def bearer(method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
            return {**headers, "Authorization": f"Bearer {token}"} if token else dict(headers)

        return bearer
    credentials = session.get_credentials()
    region = session.region_name or _region_of(api_url)

    def sigv4(method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        if credentials is None or not region:
            return dict(headers)  # unsigned: the partner API step then names the missing credentials
        return sigv4_headers(method, url, body, headers, credentials=credentials, region=region)

    return sigv4


def _auth_problem(session: Any, partner_auth: str, api_url: str) -> str | None:
    if partner_auth == "JWT":
        if not os.environ.get(JWT_ENVIRONMENT_VARIABLE):
            return f"PartnerAuth=JWT and no token in ${JWT_ENVIRONMENT_VARIABLE}"
        return None
    if session.get_credentials() is None:
        return "no AWS credentials found to sign with (PartnerAuth=AWS_IAM)"
    if not (session.region_name or _region_of(api_url)):
        return "no AWS region to sign for: set AWS_REGION"
    return None


def _region_of(api_url: str) -> str | None:
    """``eu-west-1`` from ``https://abc.execute-api.eu-west-1.amazonaws.com``; None for a custom domain."""
    parts = (urlsplit(api_url).hostname or "").split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "execute-api" else None
