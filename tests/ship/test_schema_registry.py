"""The template publishes schemas/events/ as an EventBridge schema registry: one schema per detail-type,
its Content the file itself (the template cannot read a file, so it holds a copy this test keeps equal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from local_stack.template import load_template

from release import event_schemas
from release.event_schemas import load

ROOT = Path(__file__).resolve().parents[2]


def resources(kind: str) -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    return {name: r for name, r in template["Resources"].items() if r.get("Type") == kind}


def mapped(value: Any) -> Any:
    """A Fn::FindInMap of the template's Mappings, resolved; anything else as it is."""
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        mapping, key, attribute = value["Fn::FindInMap"]
        return load_template(ROOT / "template.yaml")["Mappings"][mapping][key][attribute]
    return value


def test_the_registry_holds_exactly_the_schema_files() -> None:
    # Given the schema files and the template's registry
    files = {schema.schema_name: schema for schema in load()}
    [registry] = resources("AWS::EventSchemas::Registry")
    published = resources("AWS::EventSchemas::Schema")
    # Then there is one schema per file, in that registry, named as EventBridge names them
    assert sorted(r["Properties"]["SchemaName"] for r in published.values()) == sorted(files)
    for resource in published.values():
        props = resource["Properties"]
        schema = files[props["SchemaName"]]
        assert props["RegistryName"] == {"Fn::GetAtt": [registry, "RegistryName"]}
        assert props["Type"] == "JSONSchemaDraft4"
        # And its content is the file's (the same JSON document)
        assert json.loads(mapped(props["Content"])) == json.loads(schema.text), schema.name
        assert mapped(props["Description"]) == schema.document["description"]


def test_the_check_fails_when_a_file_changes_and_write_brings_the_template_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a copy of the template and the schemas, where one file gained a field
    directory = tmp_path / "schemas"
    directory.mkdir()
    for schema in load():
        (directory / f"{schema.name}.json").write_text(schema.text, encoding="utf-8")
    changed = json.loads((directory / "PaymentSucceeded.json").read_text(encoding="utf-8"))
    changed["definitions"]["PaymentSucceeded"]["properties"]["note"] = {"type": "string"}
    (directory / "PaymentSucceeded.json").write_text(json.dumps(changed, indent=2) + "\n", encoding="utf-8")
    template = tmp_path / "template.yaml"
    template.write_text((ROOT / "template.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(event_schemas, "TEMPLATE", template)
    monkeypatch.setattr(event_schemas, "SCHEMA_DIR", directory)
    monkeypatch.setattr(event_schemas.load, "__defaults__", (directory,))
    # When the check runs, then --write, then the check again
    assert event_schemas.main([]) == 1
    assert event_schemas.main(["--write"]) == 0
    assert event_schemas.main([]) == 0
    # Then the template's copy now carries the new field, and the repository's template matches its files
    assert '"note":{"type":"string"}' in template.read_text(encoding="utf-8")
    assert "differ from schemas/events/" in capsys.readouterr().out
    monkeypatch.undo()
    assert event_schemas.main([]) == 0
