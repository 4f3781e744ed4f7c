"""Read template.yaml, the single source of truth for what the local stack creates and runs."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from local_stack.resolver import TemplateError

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


_cache: dict[Path, tuple[int, int, dict[str, Any], dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def load_template(path: str | Path = TEMPLATE_PATH, *, as_written: bool = False) -> dict[str, Any]:
    """The template as plain data, intrinsics in their long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``).

    Its ``Fn::ForEach`` loops are expanded (:func:`expand_for_each`), as CloudFormation expands them before
    anything reads the resources; ``as_written=True`` leaves them as they are. Parsed once per file version
    (path, mtime and size): the test fixtures load it for every test. Each caller gets its own copy, free to change.
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
        cached = (stat.st_mtime_ns, stat.st_size, data, expand_for_each(data))
        with _cache_lock:
            _cache[resolved] = cached
    return copy.deepcopy(cached[2] if as_written else cached[3])


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


# ------------------------------------------------------------------------------------------ Fn::ForEach
# What CloudFormation's AWS::LanguageExtensions transform does first, for the part of it template.yaml uses:
# Fn::ForEach over a literal list of strings (nested loops too), the identifier replaced in keys and strings
# (${Fn}, &{Fn}) and for Ref Fn; within a loop, an Fn::Sub left without variables becomes its text, so a Ref or
# Fn::GetAtt of a !Sub name becomes a plain one. A collection from a parameter (a Ref to a CommaDelimitedList)
# is refused rather than guessed; so is a loop in a template without the transform, as CloudFormation refuses it.

FOR_EACH = "Fn::ForEach::"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


def expand_for_each(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template with every ``Fn::ForEach::<name>`` replaced by its copies, as CloudFormation expands it."""
    if _has_loop(template):
        transforms = template.get("Transform", [])
        if LANGUAGE_EXTENSIONS not in ([transforms] if isinstance(transforms, str) else transforms):
            raise TemplateError(f"Fn::ForEach needs the {LANGUAGE_EXTENSIONS} transform")
    return dict(_expand(template))


def _has_loop(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_loop(item) for item in value)
    if isinstance(value, Mapping):
        return any(
            (isinstance(key, str) and key.startswith(FOR_EACH)) or _has_loop(item)
            for key, item in value.items()
        )
    return False


def _expand(value: Any) -> Any:
    if isinstance(value, list):
        return [_expand(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        copies = (
            _loop(key, item) if isinstance(key, str) and key.startswith(FOR_EACH) else {key: _expand(item)}
        )
        for copy_key, copy_value in copies.items():
            if copy_key in out:
                raise TemplateError(f"{key}: {copy_key} is declared twice")
            out[copy_key] = copy_value
    return out


def _loop(key: str, argument: Any) -> dict[str, Any]:
    if not (isinstance(argument, list) and len(argument) == 3):
        raise TemplateError(f"{key}: expected [identifier, collection, output]")
    identifier, collection, output = argument
    if not (isinstance(collection, list) and all(isinstance(item, str) for item in collection)):
        raise TemplateError(f"{key}: only a literal list of strings is supported locally, not {collection!r}")
    if not isinstance(output, Mapping):
        raise TemplateError(f"{key}: the output must be a mapping of keys to values")
    copies: dict[str, Any] = {}
    for item in collection:
        for output_key, output_value in output.items():
            nested = output_key.startswith(FOR_EACH)
            if not nested and not any(f"{mark}{{{identifier}}}" in output_key for mark in "$&"):
                raise TemplateError(f"{key}: output key {output_key!r} does not use ${{{identifier}}}")
            # A nested loop is expanded after this one's identifier is replaced in it, as CloudFormation does.
            replaced = _substitute({output_key: output_value}, identifier, item)
            for copy_key, copy_value in _expand(replaced).items():
                if copy_key in copies:
                    raise TemplateError(f"{key}: {copy_key} is declared twice")
                copies[copy_key] = copy_value
    return copies


def _substitute(value: Any, identifier: str, item: str) -> Any:
    if isinstance(value, str):
        stripped = re.sub(r"[^A-Za-z0-9]", "", item)
        return value.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", stripped)
    if isinstance(value, list):
        return [_substitute(element, identifier, item) for element in value]
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref" and argument == identifier:
            return item
        if name == "Fn::Sub" and isinstance(argument, str):
            text = _substitute(argument, identifier, item)
            return text if "${" not in text else {name: text}
    return {_substitute(k, identifier, item): _substitute(v, identifier, item) for k, v in value.items()}
