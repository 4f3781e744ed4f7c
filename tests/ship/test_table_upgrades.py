"""An upgrade from the previous release is one stack update DynamoDB allows, or the changelog says how to step."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from local_stack.template import load_template

from release.changelog import releases, upgrading
from release.tables import SNAPSHOT, Change, changes, problems, table_definitions

ROOT = Path(__file__).resolve().parents[2]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def current() -> dict[str, dict[str, Any]]:
    return table_definitions(load_template(ROOT / "template.yaml"))


def previous() -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))["tables"]
    return tables


def test_the_snapshot_is_the_previous_release() -> None:
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8"))["release"].startswith(releases(CHANGELOG)[0])


def test_the_upgrade_from_the_previous_release_is_allowed_or_documented() -> None:
    # The changes since the snapshot's release are the next release's: its Upgrading part, Unreleased until then
    found = changes(previous(), current())
    assert problems(found, upgrading(CHANGELOG, "Unreleased")) == []


def test_the_snapshot_is_of_the_same_tables() -> None:
    assert previous().keys() == current().keys()


def test_the_current_upgrade_is_what_the_multi_step_paragraph_walks_through() -> None:
    # What the Unreleased Upgrading part describes, step by step from 1.0.0: exactly these, two tables
    assert changes(previous(), current()) == [
        Change("PaymentsTable", "delete", "byReference", "removed"),
        Change("PaymentsTable", "delete", "byStatus", "removed"),
        Change("PaymentsTable", "delete", "duePayments", "removed"),
        Change("PaymentsTable", "delete", "openPayments", "removed"),
        Change("PaymentsTable", "create", "watchList", "added"),
        Change("WebhookEventsTable", "delete", "byPartnerReference", "removed"),
        Change("WebhookEventsTable", "create", "paymentWebhooks", "added"),
    ]
    # and undocumented, each table's part of it is a problem
    assert len(problems(changes(previous(), current()), "Deploy it.")) == 2


def test_two_new_indexes_on_one_table_need_a_documented_path() -> None:
    # Given a release that adds two indexes to PaymentsTable (1.0.0's, from a stack that had neither)
    before = copy.deepcopy(previous())
    del before["PaymentsTable"]["GlobalSecondaryIndexes"]["byStatus"]
    del before["PaymentsTable"]["GlobalSecondaryIndexes"]["duePayments"]
    found = changes(before, previous())
    # Then undocumented, it is a problem; a multi-step paragraph naming the table and both indexes answers it
    assert len(problems(found, "Deploy it.")) == 1
    assert problems(found, "Multi-step: PaymentsTable gets byStatus first, then duePayments.") == []
    assert len(problems(found, "Multi-step: PaymentsTable gets byStatus first.")) == 1


def test_a_projection_change_is_a_delete_and_a_create() -> None:
    after = copy.deepcopy(previous())
    after["PaymentsTable"]["GlobalSecondaryIndexes"]["byStatus"]["Projection"] = {"ProjectionType": "ALL"}
    found = changes(previous(), after)
    assert [(change.kind, change.name) for change in found] == [
        ("delete", "byStatus"),
        ("create", "byStatus"),
    ]
    assert problems(found, "") != []


def test_one_change_per_table_on_two_tables_is_one_update() -> None:
    before = copy.deepcopy(previous())
    del before["PaymentsTable"]["GlobalSecondaryIndexes"]["byStatus"]
    del before["WebhookEventsTable"]["GlobalSecondaryIndexes"]["byPartnerReference"]
    assert len(changes(before, previous())) == 2
    assert problems(changes(before, previous()), "") == []


def test_a_key_schema_change_replaces_the_table() -> None:
    after = copy.deepcopy(current())
    after["LocksTable"]["KeySchema"] = [{"AttributeName": "id", "KeyType": "HASH"}]
    found = changes(current(), after)
    assert [change.kind for change in found] == ["replace"]
    assert problems(found, "") != []
