"""Resolve CloudFormation intrinsics of template.yaml to local names and URLs.

Only what the bundle's template uses is supported: Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Select, Fn::FindInMap,
Fn::If with its condition functions, and the pseudo parameters (Fn::ForEach is expanded before, by
``local_stack.template``). Anything else fails loudly (``UnsupportedIntrinsic``) rather
than being passed to a function as a dict it would not expect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PSEUDO_PARAMETERS = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "pay1st-local",
    "AWS::StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/pay1st-local/local",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class TemplateError(Exception):
    """The template cannot be run locally as written (missing value, unknown reference, ...)."""


class UnsupportedIntrinsic(TemplateError):
    """An intrinsic function the local resolver does not implement."""


class _NoValue:
    """``AWS::NoValue``: the property is removed."""


NO_VALUE = _NoValue()


class Resolver:
    """Turns template values into plain data using local identities for the template's resources.

    ``refs`` maps a logical id to what ``Ref`` returns locally (table name, queue URL, secret ARN, ...);
    ``attributes`` maps ``(logical id, attribute)`` to what ``Fn::GetAtt`` returns.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        refs: Mapping[str, str],
        attributes: Mapping[tuple[str, str], str],
        pseudo: Mapping[str, str] = PSEUDO_PARAMETERS,
    ) -> None:
        self._template = template
        self._parameters = parameters
        self._refs = refs
        self._attributes = attributes
        self._pseudo = pseudo
        self._conditions: dict[str, bool] = {}

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic replaced; ``AWS::NoValue`` entries are dropped."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key,) = value
                if (
                    key == "Ref"
                    or key.startswith("Fn::")
                    or (key == "Condition" and isinstance(value[key], str))
                ):
                    return self._intrinsic(key, value[key])
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def included(self, resource: Mapping[str, Any]) -> bool:
        """False for a resource whose ``Condition`` is false (CloudFormation would not create it)."""
        name = resource.get("Condition")
        return name is None or self.condition(name)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self._template.get("Conditions", {})
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self._template.get("Parameters", {}):
            raise TemplateError(
                f"parameter {name} has no value: it has no Default; pass --parameter-overrides {name}=..."
            )
        if name in self._refs:
            return self._refs[name]
        raise TemplateError(f"Ref to {name!r}: not a parameter or a resource the local stack provides")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self._attributes[(logical_id, attribute)]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not provided locally") from None

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self.ref(argument)
        if name == "Condition":
            return self.condition(argument)
        if name == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else self.resolve(argument)
            return self.get_att(parts[0], parts[1])
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Join":
            delimiter, items = argument
            return str(self.resolve(delimiter)).join(str(item) for item in self.resolve(items))
        if name == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Fn::FindInMap":
            map_name, top_key, second_key = (str(part) for part in self.resolve(argument))
            try:
                return self._template.get("Mappings", {})[map_name][top_key][second_key]
            except KeyError:
                raise TemplateError(
                    f"Fn::FindInMap: no {map_name}.{top_key}.{second_key} in Mappings"
                ) from None
        if name == "Fn::If":
            condition_name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition_name) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            (operand,) = argument
            return not self.resolve(operand)
        if name == "Fn::And":
            return all(self.resolve(operand) for operand in argument)
        if name == "Fn::Or":
            return any(self.resolve(operand) for operand in argument)
        raise UnsupportedIntrinsic(f"{name} is not supported by the local stack's resolver")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, raw_variables = argument
            variables = {key: self.resolve(value) for key, value in raw_variables.items()}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):  # ${!Literal} stays as ${Literal}
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, attribute = expression.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(expression))

        return _SUB_VARIABLE.sub(replace, text)
