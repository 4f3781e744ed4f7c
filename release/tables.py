"""What one stack update does to the DynamoDB tables, and whether CloudFormation and DynamoDB allow it.

DynamoDB creates or deletes one global secondary index per table per update (CloudFormation fails the update
otherwise, and rolls it back), and an index's key schema or projection cannot change in place: such a change
is a delete plus a create, two changes. A local secondary index or the table's own key schema cannot change
at all without replacing the table (a new, empty table; the Retain policy keeps the old one, orphaned).

``previous-tables.json`` is the table definitions of the release a partner's stack runs now; ``python -m
release.tables --snapshot`` rewrites it from template.yaml once a release is out, so the next release is
checked against it (tests/ship/test_table_upgrades.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = Path(__file__).resolve().parent / "previous-tables.json"
TABLE_TYPE = "AWS::DynamoDB::Table"


@dataclass(frozen=True)
class Change:
    table: str
    kind: str  # "create", "delete" (one index each) or "replace" (the whole table)
    name: str  # the index, or what forces the replacement
    why: str


def table_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per table (logical id): its key schema and indexes, the parts an update is limited on."""
    tables: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != TABLE_TYPE:
            continue
        properties = resource.get("Properties", {})
        tables[logical_id] = {
            "KeySchema": properties.get("KeySchema", []),
            "GlobalSecondaryIndexes": {
                index["IndexName"]: {"KeySchema": index["KeySchema"], "Projection": index["Projection"]}
                for index in properties.get("GlobalSecondaryIndexes", [])
            },
            "LocalSecondaryIndexes": {
                index["IndexName"]: {"KeySchema": index["KeySchema"], "Projection": index["Projection"]}
                for index in properties.get("LocalSecondaryIndexes", [])
            },
        }
    return tables


def _projection(projection: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return projection.get("ProjectionType", "KEYS_ONLY"), tuple(
        sorted(projection.get("NonKeyAttributes", []))
    )


def changes(previous: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]) -> list[Change]:
    """The index creations, deletions and table replacements that going from ``previous`` to ``current`` takes."""
    found: list[Change] = []
    for table, now in sorted(current.items()):
        before = previous.get(table)
        if before is None:
            continue  # a new table: created whole, no limit applies
        if before["KeySchema"] != now["KeySchema"]:
            found.append(Change(table, "replace", "KeySchema", "the table's key schema changed"))
        if before["LocalSecondaryIndexes"] != now["LocalSecondaryIndexes"]:
            found.append(Change(table, "replace", "LocalSecondaryIndexes", "local indexes cannot change"))
        old, new = before["GlobalSecondaryIndexes"], now["GlobalSecondaryIndexes"]
        for name in sorted(old.keys() - new.keys()):
            found.append(Change(table, "delete", name, "removed"))
        for name in sorted(new.keys() - old.keys()):
            found.append(Change(table, "create", name, "added"))
        for name in sorted(old.keys() & new.keys()):
            if old[name]["KeySchema"] != new[name]["KeySchema"]:
                why = "its key schema changed (a delete, then a create)"
            elif _projection(old[name]["Projection"]) != _projection(new[name]["Projection"]):
                why = "its projection changed (a delete, then a create)"
            else:
                continue
            found += [Change(table, "delete", name, why), Change(table, "create", name, why)]
    return found


def problems(found: list[Change], upgrading: str) -> list[str]:
    """What one update cannot do and the changelog's Upgrading part does not walk through, step by step.

    Documented means: the Upgrading text has a paragraph marked "multi-step" that names the table and every
    index (or, for a replacement, says "replace" and names the table).
    """
    paragraphs = [p for p in upgrading.split("\n\n") if "multi-step" in p.lower()]
    result = []
    for table in sorted({change.table for change in found}):
        of_table = [change for change in found if change.table == table]
        replaced = [change for change in of_table if change.kind == "replace"]
        indexes = [change for change in of_table if change.kind != "replace"]
        if not replaced and len(indexes) <= 1:
            continue
        names = {change.name for change in indexes} | ({"replace"} if replaced else set())
        if any(table in p and all(name in p for name in names) for p in paragraphs):
            continue
        listed = "; ".join(f"{change.kind} {change.name} ({change.why})" for change in of_table)
        result.append(
            f"{table}: one update cannot do {listed}. DynamoDB allows one index creation or deletion per table "
            "per update: document a multi-step path in CHANGELOG.md's Upgrading part, or split the change "
            "over releases"
        )
    return result


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "local"))
    from local_stack.template import load_template  # the repository's CloudFormation-aware YAML loader

    parser = argparse.ArgumentParser(prog="python -m release.tables", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--snapshot", action="store_true", help="write template.yaml's tables to the snapshot"
    )
    parser.add_argument("--release", default="", help="the release the snapshot is of (with --snapshot)")
    args = parser.parse_args(argv)
    current = table_definitions(load_template(ROOT / "template.yaml"))
    if args.snapshot:
        SNAPSHOT.write_text(
            json.dumps({"release": args.release, "tables": current}, indent=2) + "\n", "utf-8"
        )
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}")
        return 0
    previous = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    for change in changes(previous["tables"], current):
        print(f"{change.table}: {change.kind} {change.name} ({change.why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
