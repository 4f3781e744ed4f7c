"""DynamoDB TransactWriteItems for the local stack's moto server, isolated per item as DynamoDB does it.

moto (5.x) backs up every table a transaction touches (a deep copy of the whole table) and, when the
transaction is cancelled, puts those copies back. Under the threaded server that loses every write other
requests made to those tables meanwhile: a webhook transaction cancelled by a lost race (its condition no
longer held, the ordinary case with duplicated deliveries) wiped concurrent transitions and outbox clears,
and the volume benchmark saw payments lost and events published twice. The copy also costs O(table) per
transaction, and copying a table another thread is writing fails now and then.

Here, under one lock: every condition is checked first, with nothing written (cancelled: nothing to undo);
then each entry is written, and should a write still fail, only the items this transaction wrote are put
back. Other requests' writes are never touched. moto's single-item writes (PutItem, UpdateItem, DeleteItem)
take the same lock, so none can land between a transaction's condition check and its write (which would
overwrite a change the transaction's condition should have refused).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()  # re-entrant: a transaction's own writes go through the locked single-item writes
_installed = False


def install() -> None:
    """Replace moto's DynamoDB ``transact_write_items`` in this process and serialise its single-item writes
    with it (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign,assignment]
    for name in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
    _installed = True


def _locked(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked_write(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return write(*args, **kwargs)

    return locked_write


def _key(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    attributes = op["Item"]
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    return key


def _transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _LOCK:
        entries = []
        seen: set[tuple[str, str]] = set()
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException()
            op_type, op = next(iter(item.items()))
            key = _key(backend, op_type, op)
            identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
            entries.append((op_type, op, key))

        errors: list[tuple[Any, Any, Any]] = []
        for _op_type, op, key in entries:
            current = backend.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
            else:
                errors.append((None, None, None))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)

        written: list[tuple[str, dict[str, Any], Any]] = []
        try:
            for op_type, op, key in entries:
                table_name = op["TableName"]
                before = backend.get_item(table_name, key)
                written.append((table_name, key, copy.deepcopy(before)))
                _write(backend, op_type, op, key)
        except Exception:
            for table_name, key, before in reversed(written):
                if before is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, before.to_json()["Attributes"])
            raise


def _write(backend: Any, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"])
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    # ConditionCheck: checked above, nothing to write
