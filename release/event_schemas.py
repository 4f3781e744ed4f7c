"""The payment events' schemas (``schemas/events/*.json``) and their copy in template.yaml's schema registry.

Each file is a JSON Schema (draft 4) of one detail-type as EventBridge delivers it: the envelope (``source``
``pay1st.partner``, ``detail-type``) with the ``detail`` under ``definitions``, in the layout of the schemas
EventBridge itself discovers, so the registry's code bindings (Java, Python, TypeScript, Go) type the detail.
The files are the source; CloudFormation cannot read a local file into ``AWS::EventSchemas::Schema``'s
``Content``, so the template holds a copy: each schema's description and compact content in the ``EventSchemas``
mapping (between two marker lines) and their names in the ``Fn::ForEach::EventSchemas`` loop that makes one
schema resource each. ``python -m release.event_schemas --write`` rewrites both from the files;
tests/ship/test_schema_registry.py checks them (so does this command without ``--write``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "schemas" / "events"
TEMPLATE = ROOT / "template.yaml"
REGISTRY_ID = "PaymentEventsSchemaRegistry"
BEGIN = "  # BEGIN event schemas: written by `python -m release.event_schemas --write` from schemas/events/*.json\n"
END = "  # END event schemas\n"
MAPPING = "EventSchemas"
# The loop's collection, one line: the schema names, as the mapping has them.
_NAMES = re.compile(
    r"^(    - )\[[A-Za-z, ]*\]( {2}# the event schemas: release/event_schemas\.py writes this list)$", re.M
)


@dataclass(frozen=True)
class EventSchema:
    name: str  # the file's stem, the schema's title and its definition: PaymentSucceeded
    detail_type: str
    source: str
    text: str  # the file, as written

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.text)
        return parsed

    @property
    def logical_id(self) -> str:
        return f"{self.name}EventSchema"

    @property
    def schema_name(self) -> str:
        """How EventBridge names schemas: ``<source>@<Name>`` (``aws.ec2@EC2InstanceStateChangeNotification``)."""
        return f"{self.source}@{self.name}"

    def detail_schema(self) -> dict[str, Any]:
        """The ``detail`` alone, as a schema of its own (for validating a detail outside its envelope)."""
        document = self.document
        return {
            "$schema": document["$schema"],
            "definitions": document["definitions"],
            "$ref": f"#/definitions/{self.name}",
        }


def load(directory: Path = SCHEMA_DIR) -> list[EventSchema]:
    schemas = []
    for path in sorted(directory.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
        schemas.append(
            EventSchema(
                name=path.stem,
                detail_type=document["x-amazon-events-detail-type"],
                source=document["x-amazon-events-source"],
                text=text,
            )
        )
    return schemas


def by_detail_type(directory: Path = SCHEMA_DIR) -> dict[str, EventSchema]:
    return {schema.detail_type: schema for schema in load(directory)}


def _yaml_single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render(schemas: list[EventSchema] | None = None) -> str:
    """The template's mapping block: per schema name, its description and its content as compact JSON."""
    lines = [BEGIN, f"  {MAPPING}:\n"]
    for schema in load() if schemas is None else schemas:
        content = json.dumps(schema.document, separators=(",", ":"), ensure_ascii=False)
        description = _yaml_single_quoted(schema.document["description"])
        lines.append(f"    {schema.name}:\n")
        lines.append(f"      Description: {description}\n")
        lines.append(f"      Content: {_yaml_single_quoted(content)}\n")
    lines.append(END)
    return "".join(lines)


def render_names(schemas: list[EventSchema] | None = None) -> str:
    return "[" + ", ".join(schema.name for schema in (load() if schemas is None else schemas)) + "]"


def rewritten(text: str) -> str:
    """``text`` (template.yaml) with its mapping block and its loop's names written from the files."""
    if _NAMES.search(text) is None:
        raise ValueError("template.yaml has no Fn::ForEach::EventSchemas name list (its marked line)")
    text = text.replace(template_block(text), render())
    return _NAMES.sub(lambda match: match.group(1) + render_names() + match.group(2), text)


def template_block(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("template.yaml has no event schemas block (its BEGIN/END marker lines)")
    return text[start : end + len(END)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m release.event_schemas", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite template.yaml's block from the files")
    args = parser.parse_args(argv)
    text = TEMPLATE.read_text(encoding="utf-8")
    wanted = rewritten(text)
    if text == wanted:
        print("template.yaml's event schemas match schemas/events/")
        return 0
    if args.write:
        TEMPLATE.write_text(wanted, encoding="utf-8")
        print("template.yaml's event schemas rewritten from schemas/events/")
        return 0
    print(
        "template.yaml's event schemas differ from schemas/events/: python -m release.event_schemas --write"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
