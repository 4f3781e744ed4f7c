"""DynamoDB request units (on-demand WRU and RRU) of the calls the real handlers make, by AWS's published rules.

moto answers every call but bills nothing, so the meter wraps botocore's ``_make_api_call`` and, for every
DynamoDB call, works the units out from the items themselves: it reads each written item just before and just
after the call (with the unwrapped call, so the meter's reads are not counted) and applies the rules of
"Item sizes and formats" and "Read/write capacity mode" of the DynamoDB developer guide:

- item size: attribute names (UTF-8) plus values; a string its UTF-8 bytes, a number (significant digits / 2)
  + 1 bytes, a boolean or null 1 byte, a list or map 3 bytes plus 1 per element (and a map's key names);
- a write costs 1 WRU per 1 KB (rounded up, at least 1) of the larger of the item before and after it; a
  delete, of the item deleted; a write whose condition fails still costs the item's size (at least 1);
- inside TransactWriteItems every write (and condition check) costs twice;
- every global secondary index the item is in, before or after, is written too: a new index entry is a put,
  a vanished one a delete, a changed index key a delete and a put, a changed projected attribute an update,
  and nothing changes nothing. An entry is the table's and the index's keys plus the projected attributes
  (ALL: the whole item), at 1 KB per WRU; index writes are not doubled by a transaction;
- reads: 1 RRU per 4 KB (rounded up, at least one unit) of what GetItem returns, or of every item a Query page
  returns (sum, then rounded); half of it when eventually consistent (every index read is); ReturnValues on a
  write reads nothing.

Units are kept per table and per index (``"PaymentsTable"``, ``"PaymentsTable.byStatus"``), so a step's table
says where its writes go.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

WRITE_UNIT = 1024
READ_UNIT = 4096
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def number_size(text: str) -> int:
    """(significant digits / 2) + 1 bytes, plus one for a negative number."""
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1 + (1 if text.lstrip().startswith("-") else 0)


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one typed attribute value (``{"S": ...}``, ``{"M": {...}}``...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of a typed item (names plus values); 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class IndexSpec:
    name: str
    keys: tuple[str, ...]  # the index's key attributes
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The item's entry in this index; None when the item is not in it (sparse: a key is missing)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = {*table_keys, *self.keys, *(self.include if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in wanted}


def index_write_units(
    spec: IndexSpec,
    table_keys: tuple[str, ...],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> int:
    old, new = spec.entry(before, table_keys), spec.entry(after, table_keys)
    if old is None and new is None:
        return 0
    if old is None:
        return write_units(item_size(new))
    if new is None:
        return write_units(item_size(old))
    if any(old[key] != new[key] for key in spec.keys):
        return write_units(item_size(old)) + write_units(item_size(new))  # delete + put
    if old == new:
        return 0
    return write_units(max(item_size(old), item_size(new)))


@dataclass(frozen=True)
class TableSpec:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[IndexSpec, ...]


@dataclass
class Units:
    """Request units by table or ``table.index``, and the calls that cost them."""

    writes: Counter[str] = field(default_factory=Counter)
    reads: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # set by whoever times the step (bench/wru.py)
    log_bytes: int = 0  # what the step logged (bench/wru.py)

    @property
    def wru(self) -> int:
        return int(sum(self.writes.values()))

    @property
    def rru(self) -> float:
        return float(sum(self.reads.values()))

    def add(self, other: Units) -> None:
        self.writes.update(other.writes)
        self.reads.update(other.reads)
        self.calls.update(other.calls)

    def where(self) -> str:
        """``PaymentsTable 2, PaymentsTable.byStatus 1``: the writes by table and index, largest first."""
        return ", ".join(f"{name} {units}" for name, units in self.writes.most_common() if units)


class RequestUnitMeter:
    """Counts the request units of every DynamoDB call while installed (see the module docstring)."""

    def __init__(self) -> None:
        self.units = Units()
        self._tables: dict[str, TableSpec] = {}
        self._lock = threading.RLock()
        self._original: Any = None

    def take(self) -> Units:
        with self._lock:
            taken, self.units = self.units, Units()
        return taken

    @contextmanager
    def installed(self) -> Iterator[RequestUnitMeter]:
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        self._original = original
        meter = self

        def metered(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name != "dynamodb":
                return original(client, operation_name, api_params)
            return meter._call(client, operation_name, api_params)

        BaseClient._make_api_call = metered  # type: ignore[method-assign]
        try:
            yield self
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]

    # ------------------------------------------------------------------ internals

    def _raw(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        return self._original(client, operation, params)

    def _spec(self, client: Any, table: str) -> TableSpec:
        if table not in self._tables:
            described = self._raw(client, "DescribeTable", {"TableName": table})["Table"]
            keys = tuple(k["AttributeName"] for k in described["KeySchema"])
            indexes = tuple(
                IndexSpec(
                    name=gsi["IndexName"],
                    keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                    projection=gsi["Projection"]["ProjectionType"],
                    include=tuple(gsi["Projection"].get("NonKeyAttributes", ())),
                )
                for gsi in described.get("GlobalSecondaryIndexes", ())
            )
            self._tables[table] = TableSpec(table, keys, indexes)
        return self._tables[table]

    def _get(self, client: Any, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        item = self._raw(client, "GetItem", {"TableName": table, "Key": dict(key), "ConsistentRead": True})
        found: dict[str, Any] | None = item.get("Item")
        return found

    def _writes_of(
        self, client: Any, operation: str, params: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any]]]:
        """(table, key) of every item the write touches."""
        if operation in ("PutItem",):
            spec = self._spec(client, params["TableName"])
            return [(params["TableName"], {k: params["Item"][k] for k in spec.keys})]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], dict(params["Key"]))]
        if operation == "TransactWriteItems":
            found = []
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                if kind == "Put":
                    spec = self._spec(client, body["TableName"])
                    found.append((body["TableName"], {k: body["Item"][k] for k in spec.keys}))
                else:
                    found.append((body["TableName"], dict(body["Key"])))
            return found
        found = []
        for table, requests in params["RequestItems"].items():  # BatchWriteItem
            spec = self._spec(client, table)
            for request in requests:
                if "PutRequest" in request:
                    found.append((table, {k: request["PutRequest"]["Item"][k] for k in spec.keys}))
                else:
                    found.append((table, dict(request["DeleteRequest"]["Key"])))
        return found

    def _call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self.units.calls[operation] += 1
            if operation not in WRITES:
                response = self._raw(client, operation, params)
                self._count_read(client, operation, params, response)
                return response
            touched = self._writes_of(client, operation, params)
            before = [self._get(client, table, key) for table, key in touched]
            try:
                return self._raw(client, operation, params)
            finally:
                factor = 2 if operation == "TransactWriteItems" else 1
                for (table, key), old in zip(touched, before, strict=True):
                    new = self._get(client, table, key)
                    spec = self._spec(client, table)
                    self.units.writes[table] += factor * write_units(max(item_size(old), item_size(new)))
                    for index in spec.indexes:
                        self.units.writes[f"{table}.{index.name}"] += index_write_units(
                            index, spec.keys, old, new
                        )

    def _count_read(
        self, client: Any, operation: str, params: dict[str, Any], response: Mapping[str, Any]
    ) -> None:
        if operation == "GetItem":
            self.units.reads[params["TableName"]] += read_units(
                item_size(response.get("Item")), consistent=bool(params.get("ConsistentRead"))
            )
        elif operation in ("Query", "Scan"):
            name = params["TableName"] + (f".{params['IndexName']}" if "IndexName" in params else "")
            size = sum(item_size(item) for item in response.get("Items", []))
            self.units.reads[name] += read_units(size, consistent=bool(params.get("ConsistentRead")))
        elif operation == "BatchGetItem":
            for table, items in response.get("Responses", {}).items():
                consistent = bool(params["RequestItems"][table].get("ConsistentRead"))
                for item in items:
                    self.units.reads[table] += read_units(item_size(item), consistent=consistent)
        elif operation == "TransactGetItems":
            for entry in response.get("Responses", []):
                self.units.reads["transact"] += 2 * read_units(item_size(entry.get("Item")), consistent=True)
