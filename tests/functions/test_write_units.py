"""Write units per payment, counted on the real handlers by AWS's on-demand rules (bench/wru.py,
tests/request_units.py): a paid and fulfilled payment costs at most 12, a redelivered webhook at most 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.request_units import IndexSpec, index_write_units, item_size, number_size, write_units

REPO = Path(__file__).resolve().parents[2]


def test_a_paid_and_fulfilled_payment_costs_at_most_twelve_write_units() -> None:
    # Given the handlers on moto and the sandbox (bench/wru.py), When a payment is created, paid by a signed
    # webhook (then redelivered), fulfilled and its fulfilment sent
    run = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(REPO / "bench" / "wru.py"), "--json"], cwd=REPO, capture_output=True, text=True
    )
    steps = json.loads(run.stdout.strip().splitlines()[-1])
    # Then the four steps cost 12 write units or fewer (40 before), a redelivery 2 or fewer (4 before)
    paid = sum(steps[step]["wru"] for step in ("create", "first webhook", "fulfilment", "sender"))
    assert paid <= 12, steps
    assert steps["redelivered webhook"]["wru"] <= 2, steps
    assert run.returncode == 0, run.stdout + run.stderr


def test_item_sizes_follow_dynamodb_rules() -> None:
    # Names and strings count their UTF-8 bytes, numbers (digits / 2) + 1, lists and maps 3 + 1 per element
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert number_size("250.50") == 3 and number_size("-7") == 3 and number_size("1000") == 2
    assert item_size({"m": {"M": {"k": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    assert item_size({"l": {"L": [{"N": "1"}, {"NULL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert write_units(1024) == 1 and write_units(1025) == 2 and write_units(0) == 1


def test_index_writes_put_delete_update_or_nothing() -> None:
    keys = ("pk",)
    spec = IndexSpec("idx", ("marker", "at"), "KEYS_ONLY")
    old = {"pk": {"S": "a"}, "marker": {"S": "M"}, "at": {"S": "1"}, "big": {"S": "x" * 2000}}
    moved = {**old, "at": {"S": "2"}}
    assert index_write_units(spec, keys, None, old) == 1  # put (keys only: small)
    assert index_write_units(spec, keys, old, None) == 1  # delete
    assert index_write_units(spec, keys, old, moved) == 2  # key changed: delete + put
    assert index_write_units(spec, keys, old, {**old, "big": {"S": "y"}}) == 0  # not projected
    everything = IndexSpec("all", ("marker", "at"), "ALL")
    assert index_write_units(everything, keys, old, {**old, "big": {"S": "y" * 2000}}) == 2  # update, 2 KB
    assert index_write_units(everything, keys, {"pk": {"S": "a"}}, {"pk": {"S": "b"}}) == 0  # sparse
