"""The IAM policies template.yaml gives its functions, evaluated as IAM evaluates identity policies.

Nothing enforces IAM locally (moto checks no resource-level permissions), so tests use this instead:
``function_policies`` resolves each function's statements to ARNs (inline ones, and those of the template's own
``AWS::IAM::ManagedPolicy`` resources that its ``Policies`` reference), ``request_resources`` names the ARNs
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

MANAGED_POLICY_TYPE = "AWS::IAM::ManagedPolicy"
_POLICY_TYPES = (MANAGED_POLICY_TYPE, "AWS::IAM::Policy")
_INLINE_POLICY_KEYS = {"Version", "Statement"}  # an inline policy, and a managed policy's PolicyDocument
_SUPPORTED_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource"}
_ATTACHMENT_KEYS = ("Roles", "Users", "Groups")


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

    A policy is either an inline statement list or a reference (``!Ref``, or ``Fn::GetAtt`` of ``PolicyArn``)
    to an ``AWS::IAM::ManagedPolicy`` of the same template, whose ``PolicyDocument`` is read the same way.
    Only what the template spells out can be checked: a SAM policy template, an AWS managed policy, a
    reference to anything else (a parameter holding an ARN, another resource) is a ``TemplateError`` naming
    it, as is a statement with NotAction, NotResource or a Condition, and an IAM policy resource that
    attaches itself to a function's role (``Roles``) instead of being listed in its ``Policies``.
    """
    policies: dict[str, tuple[Statement, ...]] = {}
    for logical_id, resource in resources_of_type(template, FUNCTION_TYPE).items():
        if not resolver.included(resource):
            continue
        _reject_attached_policies(template, logical_id)
        declared = resource.get("Properties", {}).get("Policies", [])
        statements: list[Statement] = []
        for policy in declared if isinstance(declared, list) else [declared]:
            managed = _managed_policy_id(template, policy)
            if managed is not None:
                managed_resource = template["Resources"][managed]
                if not resolver.included(managed_resource):
                    raise TemplateError(
                        f"{logical_id}: managed policy {managed} is not created (its Condition)"
                    )
                document = managed_resource.get("Properties", {}).get("PolicyDocument")
                owner = f"{logical_id}: managed policy {managed}"
            else:
                document, owner = policy, logical_id
            if not (
                isinstance(document, dict)
                and "Statement" in document
                and set(document) <= _INLINE_POLICY_KEYS
            ):
                name = _policy_name(policy)
                raise TemplateError(
                    f"{owner}: policy {name!r} is not an inline Statement list nor a managed policy of this "
                    "template, so what it grants cannot be checked; write out the statements"
                )
            statements += _statements(owner, document["Statement"], resolver)
        policies[logical_id] = tuple(statements)
    return policies


def _policy_name(policy: Any) -> Any:
    """How an error names a policy: a SAM policy template by its name, a reference as written."""
    if isinstance(policy, dict) and len(policy) == 1:
        ((key, _value),) = policy.items()
        return policy if key == "Ref" or key.startswith("Fn::") else key
    return policy if isinstance(policy, str) else "?"


def _managed_policy_id(template: Mapping[str, Any], policy: Any) -> str | None:
    """The logical id of the template's ``AWS::IAM::ManagedPolicy`` that ``policy`` refers to, if it does."""
    if not isinstance(policy, dict) or len(policy) != 1:
        return None
    ((key, value),) = policy.items()
    if key == "Ref" and isinstance(value, str):
        target = value
    elif key == "Fn::GetAtt":
        parts = value.split(".", 1) if isinstance(value, str) else value
        if not (isinstance(parts, list) and len(parts) == 2 and parts[1] == "PolicyArn"):
            return None
        target = str(parts[0])
    else:
        return None
    resource = template.get("Resources", {}).get(target)
    if isinstance(resource, dict) and resource.get("Type") == MANAGED_POLICY_TYPE:
        return target
    return None


def _reject_attached_policies(template: Mapping[str, Any], function_id: str) -> None:
    """A policy resource naming the function's role (SAM's ``<FunctionId>Role``) would grant unseen."""
    role = {"Ref": f"{function_id}Role"}
    for policy_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") not in _POLICY_TYPES:
            continue
        properties = resource.get("Properties", {})
        for key in _ATTACHMENT_KEYS:
            attached = properties.get(key) or []
            if role in (attached if isinstance(attached, list) else [attached]):
                raise TemplateError(
                    f"{policy_id} attaches itself to {function_id}'s role ({key}), which the check does not "
                    f"evaluate; list it in {function_id}'s Policies instead"
                )


def _statements(owner: str, body: Any, resolver: Resolver) -> list[Statement]:
    statements = []
    for raw in body if isinstance(body, list) else [body]:
        statement = resolver.resolve(raw)
        unsupported = set(statement) - _SUPPORTED_STATEMENT_KEYS
        if unsupported:
            raise TemplateError(f"{owner}: statement keys {sorted(unsupported)} are not evaluated")
        statements.append(
            Statement(
                effect=str(statement["Effect"]),
                actions=_strings(statement["Action"]),
                resources=_strings(statement["Resource"]),
            )
        )
    return statements


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


# A transaction is authorised item by item, as the action each entry stands for (there is no IAM action
# dynamodb:TransactWriteItems; AWS checks PutItem, UpdateItem, DeleteItem or ConditionCheckItem per table).
_TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def request_actions(
    service: str, operation: str, params: Mapping[str, Any], *, region: str, account: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The (IAM action, resource ARNs) pairs an API call is authorised as: one for most calls, one per
    entry for DynamoDB's TransactWriteItems."""
    if service == "dynamodb" and operation == "TransactWriteItems":
        pairs = []
        for entry in params.get("TransactItems", []):
            for kind, request in entry.items():
                action = f"dynamodb:{_TRANSACT_WRITE_ACTIONS[kind]}"
                pairs.append(
                    (action, request_resources(service, kind, request, region=region, account=account))
                )
        return tuple(pairs)
    return (
        (
            f"{service}:{operation}",
            request_resources(service, operation, params, region=region, account=account),
        ),
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


def _wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None
