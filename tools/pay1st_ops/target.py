"""Which stack the operator works on: a deployed one (by name, boto3 with the caller's credentials) or a
running local stack (its ``/_local/stack`` facts, moto's endpoint).

Either way a :class:`OpsTarget` is the stack's resources by logical id (what CloudFormation's
``list_stack_resources`` calls PhysicalResourceId: table names, queue URLs, the bus name, the secret's ARN),
its parameters and a boto3 client factory. The stack description is read with ``go_live``'s code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from go_live.target import TargetError, parameters_of, stack_description

__all__ = ["OpsTarget", "TargetError", "deployed_target", "local_target"]

# Fail in seconds, not minutes, when AWS is unreachable; an operator retries by hand.
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20)
# What tells the stack is this bundle, and what find/show/report/redrive read. The credentials secret and
# the locks table are resolved only by the commands that query Pay1st (``wiring.Services._gateway``), with
# the same "has no resource" error, so reading a stack never depends on them.
REQUIRED_RESOURCES = (
    "PaymentsTable",
    "WebhookEventsTable",
    "PaymentEventsBus",
    "FulfilmentQueue",
    "FulfilmentDeadLetterQueue",
)


@dataclass(frozen=True)
class OpsTarget:
    name: str
    stack_name: str
    local: bool
    resources: Mapping[str, str]  # logical id -> physical id
    parameters: Mapping[str, str]
    client: Callable[[str], Any]  # service name -> boto3 client
    # The environment the stack's functions run with (the status poller's): the settings the operator's
    # services are wired with, so a schedule or an interval means what it means in the stack.
    environment: Callable[[], Mapping[str, str]]

    def resource(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TargetError(f"{self.name} has no resource {logical_id}: is it this bundle?") from None

    @property
    def token_parameter_name(self) -> str:
        """Where the functions cache the gateway token (template Globals ``TOKEN_PARAMETER_NAME``)."""
        return f"/{self.stack_name}/pay1st/access-token"

    def caller(self) -> str:
        """Who is acting: the caller's identity (STS), for audit records."""
        try:
            return str(self.client("sts").get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError) as exc:
            raise TargetError(f"cannot tell who you are (sts get-caller-identity): {exc}") from None


def _check(target: OpsTarget) -> OpsTarget:
    missing = [name for name in REQUIRED_RESOURCES if name not in target.resources]
    if missing:
        raise TargetError(f"{target.name} has no {', '.join(missing)}: is it this bundle?")
    return target


def deployed_target(stack_name: str, session: Any) -> OpsTarget:
    """A deployed stack through ``session`` (a boto3 Session: the caller's credentials and region)."""
    cloudformation = session.client("cloudformation", config=_BOTO_CONFIG)
    stack = stack_description(cloudformation, stack_name)
    resources: dict[str, str] = {}
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                resources[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
    except (ClientError, BotoCoreError) as exc:
        raise TargetError(f"cannot list the resources of stack {stack_name!r}: {exc}") from None
    return _check(
        OpsTarget(
            name=f"stack {stack_name}",
            stack_name=stack_name,
            local=False,
            resources=resources,
            parameters=parameters_of(stack),
            client=lambda service: session.client(service, config=_BOTO_CONFIG),
            environment=lambda: _function_environment(session, stack_name, resources),
        )
    )


# The function whose configuration carries the stack's settings (every function shares the template's
# Globals; the poller is the one that reads all of them).
SETTINGS_FUNCTION = "StatusPollerFunction"


def _function_environment(session: Any, stack_name: str, resources: Mapping[str, str]) -> Mapping[str, str]:
    name = resources.get(SETTINGS_FUNCTION)
    if not name:
        raise TargetError(f"stack {stack_name} has no {SETTINGS_FUNCTION}: is it this bundle?")
    try:
        config = session.client("lambda", config=_BOTO_CONFIG).get_function_configuration(FunctionName=name)
    except (ClientError, BotoCoreError) as exc:
        raise TargetError(
            f"cannot read the settings of {name} (lambda:GetFunctionConfiguration): {exc}"
        ) from None
    variables = config.get("Environment", {}).get("Variables", {})
    return {name: str(value) for name, value in variables.items()}  # strings in Lambda (not always in moto)


def local_target(api_url: str, *, http: urllib3.PoolManager | None = None) -> OpsTarget:
    """A running local stack (``make serve``), from the facts its ``/_local/stack`` route publishes."""
    from local_stack import aws  # only for a local stack: moto's endpoint with fake credentials

    http = http or urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=10))
    url = api_url.rstrip("/") + "/_local/stack"
    try:
        response = http.request("GET", url)
    except urllib3.exceptions.HTTPError as exc:
        raise TargetError(f"no local stack answers at {api_url}: {exc}") from None
    if response.status != 200:
        raise TargetError(f"{url} answered {response.status}: is it a local stack?")
    info: Mapping[str, Any] = json.loads(response.data)
    if "resources" not in info:
        raise TargetError(f"the local stack at {api_url} does not list its resources: restart it")
    endpoint = str(info["motoUrl"])
    parameters = dict(info.get("parameters") or {})
    environment = info.get("functionEnvironment")
    if not isinstance(environment, Mapping):
        raise TargetError(f"the local stack at {api_url} does not publish its settings: restart it")
    return _check(
        OpsTarget(
            name=f"local stack {api_url}",
            stack_name=str(info["stackName"]),
            local=True,
            resources=dict(info["resources"]),
            parameters=parameters,
            client=lambda service: aws.client(service, endpoint),
            environment=lambda: dict(environment),
        )
    )
