"""Read template.yaml, the single source of truth for what the local stack creates and runs."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

# create_table takes these properties of AWS::DynamoDB::Table as they are; the others (PITR, SSE, TTL,
# deletion policies) are deployment concerns that the emulator either ignores or sets through other calls.
_CREATE_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "StreamSpecification",
)


# libyaml's parser when PyYAML has it (about ten times faster on template.yaml), else the pure-Python one.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CloudFormationLoader(_SafeLoader):  # type: ignore[misc]
    """SafeLoader that turns short-form intrinsics (!Ref, !Sub, !GetAtt, ...) into their long form."""


def _intrinsic(loader: Any, tag_suffix: str, node: Any) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected node for !{tag_suffix}", node.start_mark
        )
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


_cache: dict[Path, tuple[int, int, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def load_template(path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, intrinsics in their long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``).

    Parsed once per file version (path, mtime and size): the test fixtures load it for every test. Each
    caller gets its own copy, free to change.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    with _cache_lock:
        cached = _cache.get(resolved)
    if cached is None or cached[:2] != (stat.st_mtime_ns, stat.st_size):
        with open(resolved, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
        if not isinstance(data, dict):
            raise ValueError(f"{path} is not a CloudFormation template")
        cached = (stat.st_mtime_ns, stat.st_size, data)
        with _cache_lock:
            _cache[resolved] = cached
    return copy.deepcopy(cached[2])


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Parameter name → its Default, as text (parameters without one are left out)."""
    return {
        name: str(parameter["Default"])
        for name, parameter in template.get("Parameters", {}).items()
        if "Default" in parameter
    }


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id → resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def dynamodb_tables(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id → ``create_table`` kwargs (table named after its logical id), from the template's own tables."""
    tables: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        properties = resource.get("Properties", {})
        kwargs = {key: properties[key] for key in _CREATE_TABLE_KEYS if key in properties}
        kwargs["TableName"] = logical_id
        tables[logical_id] = kwargs
    return tables
