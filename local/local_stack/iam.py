"""The IAM policies template.yaml gives its functions, evaluated as IAM evaluates identity policies.

Nothing enforces IAM locally (moto checks no resource-level permissions), so tests use this instead:
``function_policies`` resolves each function's inline statements to ARNs, ``request_resources`` names the ARNs
an AWS API call acts on, and ``allowed`` applies a policy to a call: an explicit Deny wins, else an Allow must
match both the action and every resource, with IAM's ``*`` and ``?`` wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from local_stack.resolver import Resolver, TemplateError
from local_stack.spec import FUNCTION_TYPE
from local_stack.template import resources_of_type

_INLINE_POLICY_KEYS = {"Version", "Statement"}
_SUPPORTED_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource"}


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]  # "service:Operation", wildcards allowed
    resources: tuple[str, ...]  # ARNs, wildcards allowed

    def matches(self, action: str, resource: str) -> bool:
        return any(_wildcard_match(p, action, ignore_case=True) for p in self.actions) and any(
            _wildcard_match(p, resource) for p in self.resources
        )


def function_policies(template: Mapping[str, Any], resolver: Resolver) -> dict[str, tuple[Statement, ...]]:
    """Function logical id → the statements of its ``Policies``, intrinsics resolved.

    Only inline statement lists can be checked: a SAM policy template or a managed policy (what it grants is
    not in the template) is a ``TemplateError`` naming it, as is a statement with NotAction, NotResource or a
    Condition.
    """
    policies: dict[str, tuple[Statement, ...]] = {}
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        if not resolver.included(resource):
            continue
        declared = resource.get("Properties", {}).get("Policies", [])
        statements: list[Statement] = []
        for policy in declared if isinstance(declared, list) else [declared]:
            if not (
                isinstance(policy, dict) and "Statement" in policy and set(policy) <= _INLINE_POLICY_KEYS
            ):
                name = policy if isinstance(policy, str) else next(iter(policy), "?")
                raise TemplateError(
                    f"{logical_id}: policy {name!r} is not an inline Statement list, so what it grants cannot "
                    "be checked; write out the statements"
                )
            body = policy["Statement"]
            for raw in body if isinstance(body, list) else [body]:
                statement = resolver.resolve(raw)
                unsupported = set(statement) - _SUPPORTED_STATEMENT_KEYS
                if unsupported:
                    raise TemplateError(
                        f"{logical_id}: statement keys {sorted(unsupported)} are not evaluated"
                    )
                statements.append(
                    Statement(
                        effect=str(statement["Effect"]),
                        actions=_strings(statement["Action"]),
                        resources=_strings(statement["Resource"]),
                    )
                )
        policies[logical_id] = tuple(statements)
    return policies


def allowed(statements: Sequence[Statement], action: str, resources: Sequence[str]) -> bool:
    """Whether the statements allow ``action`` on every one of ``resources``."""
    for resource in resources:
        matching = [s for s in statements if s.matches(action, resource)]
        if any(s.effect == "Deny" for s in matching) or not any(s.effect == "Allow" for s in matching):
            return False
    return True


def request_resources(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str
) -> tuple[str, ...]:
    """The ARNs an API call acts on, for the services the bundle calls; ``("*",)`` for any other call.

    Names are turned into ARNs as IAM does, except a secret called by name: IAM checks its full ARN (with
    the random suffix), which the name alone does not give, so the bundle passes the ARN (``!Ref``).
    """
    arn = f"arn:aws:{service}:{region}:{account}"
    if service == "dynamodb" and "TableName" in params:
        table = str(params["TableName"])
        table_arn = table if table.startswith("arn:") else f"{arn}:table/{table}"
        index = params.get("IndexName")
        return (f"{table_arn}/index/{index}" if index else table_arn,)
    if service == "ssm" and "Name" in params:
        name = str(params["Name"])
        return (name if name.startswith("arn:") else f"{arn}:parameter/{name.lstrip('/')}",)
    if service == "secretsmanager" and "SecretId" in params:
        secret = str(params["SecretId"])
        return (secret if secret.startswith("arn:") else f"{arn}:secret:{secret}",)
    if service == "events" and operation == "PutEvents":
        buses = {str(entry.get("EventBusName") or "default") for entry in params.get("Entries", [])}
        return tuple(sorted(bus if bus.startswith("arn:") else f"{arn}:event-bus/{bus}" for bus in buses))
    if service == "sqs" and "QueueUrl" in params:
        queue_name = urlsplit(str(params["QueueUrl"])).path.rstrip("/").rsplit("/", 1)[-1]
        return (f"{arn}:{queue_name}",)
    return ("*",)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


def _wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None
