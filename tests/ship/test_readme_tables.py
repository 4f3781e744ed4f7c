"""The README's architecture table, its public routes and the Security section say what the template deploys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from local_stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEMPLATE = load_template(ROOT / "template.yaml")
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?]*)")


def functions() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def routes(properties: dict[str, Any]) -> dict[str, bool]:
    """Each HTTP API route of a function ("POST /payments"), True when it is public (Authorizer NONE)."""
    found = {}
    for event in (properties.get("Events") or {}).values():
        if event["Type"] == "HttpApi":
            event_properties = event["Properties"]
            public = (event_properties.get("Auth") or {}).get("Authorizer") == "NONE"
            found[f"{event_properties['Method']} {event_properties['Path']}"] = public
    return found


def architecture_rows() -> dict[str, str]:
    """The architecture table's rows by their first cell (`Name`), the job cell as written."""
    section = README[README.index("## Architecture") : README.index("### State and exactly-once")]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[2]
    return rows


def public_routes() -> set[str]:
    return {
        route for properties in functions().values() for route, public in routes(properties).items() if public
    }


def test_every_function_has_a_row_and_every_row_is_a_function() -> None:
    rows = {name for name in architecture_rows() if name.endswith("Function")}
    assert rows == set(functions())


@pytest.mark.parametrize("function", sorted(functions()))
def test_each_row_names_the_functions_routes_and_which_are_public(function: str) -> None:
    job = architecture_rows()[function]
    written = {f"{method} {path}" for method, path in ROUTE.findall(job)}
    assert written == set(routes(functions()[function])), job
    for route, public in routes(functions()[function]).items():
        assert (f"`{route}` (public)" in job) == public, (route, job)


def test_the_security_section_lists_exactly_the_public_routes() -> None:
    section = README[README.index("## Security") : README.index("## Benchmarks")]
    bullet = section[section.index("**What is public.**") : section.index("- **Webhooks.**")]
    assert {f"{method} {path}" for method, path in ROUTE.findall(bullet)} == public_routes()
    # Any count of them in prose is the right one ("two public routes" was written when there were three)
    words = ["no", "one", "two", "three", "four", "five", "six"]
    counted = re.findall(rf"\b({'|'.join(words)}) public routes\b", README, flags=re.IGNORECASE)
    assert {word.lower() for word in counted} <= {words[len(public_routes())]}


def test_the_public_routes_table_has_the_templates_throttles() -> None:
    section = README[README.index("### Public routes") : README.index("No reserved concurrency")]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and ROUTE.match(cells[0]):
            table[cells[0].strip("`")] = (int(cells[1]), int(cells[2]))
    settings = TEMPLATE["Resources"]["PaymentsApi"]["Properties"]["RouteSettings"]
    assert table == {
        route: (value["ThrottlingBurstLimit"], value["ThrottlingRateLimit"])
        for route, value in settings.items()
    }
    assert set(table) == public_routes()
