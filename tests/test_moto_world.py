"""The shared moto world every `aws` test stands on: a reset undoes what tests do, anything else rebuilds it."""

from __future__ import annotations

import pytest

from tests.moto_world import Built, Clients, MotoWorld

REGION, ACCOUNT = "eu-west-1", "123456789012"


def build(clients: Clients) -> Built:
    """A small world: one table, one queue, one secret, one bus (what the real build makes, in miniature)."""
    clients.dynamodb.create_table(
        TableName="things",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    url = clients.sqs.create_queue(QueueName="jobs")["QueueUrl"]
    clients.secrets.create_secret(Name="credentials", SecretString="{}")
    clients.events.create_event_bus(Name="bus")
    return Built(
        tables={"Things": "things"}, queue_urls={"Jobs": url}, secret_names=["credentials"], bus_names=["bus"]
    )


@pytest.fixture
def world() -> MotoWorld:
    # Its own world: the suite's shared one notices the reset this causes and rebuilds itself (tested below).
    return MotoWorld(REGION, ACCOUNT, build)


def write_everything(clients: Clients, built: Built) -> None:
    clients.dynamodb.put_item(TableName="things", Item={"pk": {"S": "a"}})
    clients.sqs.send_message(QueueUrl=built.queue_urls["Jobs"], MessageBody="job")
    clients.ssm.put_parameter(Name="/token", Value="secret", Type="SecureString")
    clients.events.put_events(
        Entries=[{"Source": "t", "DetailType": "d", "Detail": "{}", "EventBusName": "bus"}]
    )


def test_items_messages_and_parameters_are_cleared_without_a_rebuild(
    world: MotoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.use(monkeypatch) as (clients, built):
        write_everything(clients, built)
    with world.use(monkeypatch) as (clients, built):
        assert clients.dynamodb.scan(TableName="things")["Items"] == []
        assert "Messages" not in clients.sqs.receive_message(QueueUrl=built.queue_urls["Jobs"])
        assert clients.ssm.describe_parameters()["Parameters"] == []
        assert clients.secrets.get_secret_value(SecretId="credentials")["SecretString"] == "{}"
    assert (world.uses, world.builds) == (2, 1)
    assert not world.rebuilt_for


@pytest.mark.parametrize(
    ("change", "call"),
    [
        (lambda c: c.dynamodb.delete_table(TableName="things"), "dynamodb:DeleteTable"),
        (
            lambda c: c.secrets.put_secret_value(SecretId="credentials", SecretString="{1}"),
            "secretsmanager:PutSecretValue",
        ),
        (
            lambda c: c.events.put_rule(Name="r", EventPattern='{"source": ["t"]}', EventBusName="bus"),
            "events:PutRule",
        ),
    ],
)
def test_any_other_change_rebuilds_the_world_for_the_next_test(
    world: MotoWorld, monkeypatch: pytest.MonkeyPatch, change: object, call: str
) -> None:
    with world.use(monkeypatch) as (clients, _):
        change(clients)  # type: ignore[operator]
    assert world.rebuilt_for == {call: 1}
    with world.use(monkeypatch) as (clients, _):
        assert clients.dynamodb.describe_table(TableName="things")["Table"]["ItemCount"] == 0
        assert clients.secrets.get_secret_value(SecretId="credentials")["SecretString"] == "{}"
        assert clients.events.list_rules(EventBusName="bus")["Rules"] == []
    assert world.builds == 2


def test_a_world_reset_by_something_else_is_rebuilt(
    world: MotoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.use(monkeypatch) as (clients, built):
        write_everything(clients, built)
    from moto.core.base_backend import BackendDict

    BackendDict.reset()  # what another mock_aws() or a local stack's moto server does
    with world.use(monkeypatch) as (clients, _):
        assert clients.dynamodb.scan(TableName="things")["Items"] == []
    assert world.builds == 2
