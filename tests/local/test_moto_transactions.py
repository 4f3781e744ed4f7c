"""The local stack's TransactWriteItems on moto: a cancelled transaction never undoes other requests' writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from local_stack import moto_transactions

TABLE = "Items"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        moto_transactions.install()
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName=TABLE, Item={"k": {"S": "a"}, "v": {"S": "1"}})
        yield client


def _update(key: str, value: str, condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": TABLE,
        "Key": {"k": {"S": key}},
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    if condition is not None:
        update["ConditionExpression"] = condition
        update["ExpressionAttributeValues"][":old"] = {"S": "1"}
    return {"Update": update}


def _value(dynamodb: Any, key: str) -> str | None:
    item = dynamodb.get_item(TableName=TABLE, Key={"k": {"S": key}}).get("Item")
    return None if item is None else str(item["v"]["S"])


def test_a_transaction_writes_all_its_entries_or_none(dynamodb: Any) -> None:
    dynamodb.transact_write_items(TransactItems=[_update("a", "2", "v = :old"), _update("b", "2")])
    assert (_value(dynamodb, "a"), _value(dynamodb, "b")) == ("2", "2")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as caught:
        dynamodb.transact_write_items(TransactItems=[_update("c", "3"), _update("a", "3", "v = :old")])
    reasons = caught.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert (_value(dynamodb, "a"), _value(dynamodb, "c")) == ("2", None)


def test_a_write_landing_while_a_transaction_is_cancelled_survives(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    # Given another request that writes item "x" while the transaction is being evaluated
    get_item = DynamoDBBackend.get_item
    landed = []

    def get_item_meanwhile(backend: Any, *args: Any, **kwargs: Any) -> Any:
        if not landed:
            landed.append(True)
            backend.put_item(TABLE, {"k": {"S": "x"}, "v": {"S": "concurrent"}})
        return get_item(backend, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item_meanwhile)
    # When the transaction is cancelled by its condition
    dynamodb.put_item(TableName=TABLE, Item={"k": {"S": "a"}, "v": {"S": "moved on"}})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[_update("a", "2", "v = :old")])
    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item)
    # Then the other request's write is still there (moto's own rollback restored a copy of the whole table)
    assert landed and _value(dynamodb, "x") == "concurrent"
    assert _value(dynamodb, "a") == "moved on"


def test_a_single_write_cannot_land_between_a_transactions_check_and_its_write(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["eu-west-1"]
    other: dict[str, Any] = {}

    def conditional_update() -> None:  # another request: "a" from 1 to "other", if it is still 1
        try:
            backend.update_item(
                TABLE,
                {"k": {"S": "a"}},
                update_expression="SET v = :v",
                expression_attribute_names={},
                expression_attribute_values={":v": {"S": "other"}, ":old": {"S": "1"}},
                condition_expression="v = :old",
            )
            other["result"] = "written"
        except Exception as exc:  # noqa: BLE001 - which one is the point
            other["result"] = type(exc).__name__

    # Given that request arriving after the transaction checked its condition on "a", before it writes
    write = moto_transactions._write
    thread = threading.Thread(target=conditional_update)

    def write_after_a_moment(*args: Any) -> None:
        if not thread.is_alive() and "result" not in other:
            thread.start()
            time.sleep(0.2)  # ample time for it to land, were it not held back
        write(*args)

    monkeypatch.setattr(moto_transactions, "_write", write_after_a_moment)
    # When the transaction ("a" from 1 to 2, if it is still 1) goes ahead
    dynamodb.transact_write_items(TransactItems=[_update("a", "2", "v = :old")])
    thread.join(timeout=5)
    # Then the two were serialised: the transaction first, the other's condition then failed
    assert other["result"] == "ConditionalCheckFailed" and _value(dynamodb, "a") == "2"
