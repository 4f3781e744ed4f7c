"""One moto world per test process, brought back to its freshly built state before each test.

Building template.yaml's tables and queues, the secret, the bus and five boto3 clients for every test took
about half of the suite's time. The `aws` fixture builds the world once and, between tests, undoes what
tests usually do to it directly in moto's in-memory backends (no API round trips): it clears the tables'
items, the queues' messages and the SSM parameters. Any other change (a deleted table, a new secret
version, a rule, a queue attribute...) marks the world dirty, and the next test gets a world rebuilt from
nothing, exactly as before. A world that something else reset (another ``mock_aws``, a local stack's moto
server in this process) is noticed and rebuilt too.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

# Calls that change nothing the reset does not undo: reads, and writes of items, messages, events
# (published events leave nothing behind but the tap's messages) and SSM parameters.
READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet", "Receive")
RESETTABLE_WRITES = {
    "dynamodb": {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    },
    "sqs": {
        "SendMessage",
        "SendMessageBatch",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "PurgeQueue",
    },
    "events": {"PutEvents"},
    "ssm": {"PutParameter", "DeleteParameter", "DeleteParameters"},
}


@dataclass
class Clients:
    """The boto3 session the world was built with (handlers get it as boto3's default) and its clients."""

    session: boto3.Session
    dynamodb: Any
    sqs: Any
    events: Any
    secrets: Any
    ssm: Any


@dataclass
class Built:
    """What a build made: the names tests use, and the moto objects a reset clears or checks."""

    tables: dict[str, str]
    queue_urls: dict[str, str]  # logical id (or the tap's name) -> URL
    secret_names: list[str]
    bus_names: list[str]
    details: dict[str, Any] = field(default_factory=dict)  # whatever the builder hands the fixture
    _objects: list[tuple[Callable[[], Any], Any]] = field(default_factory=list)


class MotoWorld:
    """The process's moto world: ``use()`` gives a test a fresh-looking world, built once when possible."""

    def __init__(self, region: str, account: str, build: Callable[[Clients], Built]) -> None:
        self.region, self.account = region, account
        self._build = build
        self._clients: Clients | None = None
        self._built: Built | None = None
        self._dirty = True
        self.uses = self.builds = 0  # tests served, and builds from nothing (printed at the end of a run)
        self.rebuilt_for: Counter[str] = Counter()  # the calls that made the next test rebuild it
        self._mock: Any = None

    @contextmanager
    def use(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Clients, Built]]:
        """Activate moto (keeping its state), reset or rebuild the world, and watch what the test changes."""
        from moto import mock_aws
        from moto.core.config import default_user_config

        if self._mock is None:
            # moto replaces boto3's default session on every start (a cold one: every client re-parses its
            # JSON model); the world's own warm session is made the default instead, for this test only.
            core = {**default_user_config.get("core", {}), "reset_boto3_session": False}
            self._mock = mock_aws(config={"core": core})
        self._mock.start(reset=False)
        self.uses += 1
        try:
            built = self._prepare()
            assert self._clients is not None
            monkeypatch.setattr(boto3, "DEFAULT_SESSION", self._clients.session)
            # Powertools' get_secret builds its provider on a new (cold) session each time its caches are
            # cleared; a provider on the warm one reads the same secret through the same moto.
            from aws_lambda_powertools.utilities.parameters import secrets

            provider = functools.partial(secrets.SecretsProvider, boto3_session=self._clients.session)
            monkeypatch.setattr(secrets, "SecretsProvider", provider)
            self._watch(monkeypatch)
            yield self._clients, built
        finally:
            self._mock.stop(remove_data=False)

    def _prepare(self) -> Built:
        if self._clients is None:
            session = boto3.Session(region_name=self.region)
            self._clients = Clients(
                session=session,
                dynamodb=session.client("dynamodb"),
                sqs=session.client("sqs"),
                events=session.client("events"),
                secrets=session.client("secretsmanager"),
                ssm=session.client("ssm"),
            )
        if self._built is not None and not self._dirty and self._intact(self._built):
            self._clear(self._built)
            return self._built
        from moto.core.base_backend import BackendDict

        BackendDict.reset()  # what mock_aws() does on start: a new, empty account
        self.builds += 1
        built = self._build(self._clients)
        self._remember(built)
        self._built, self._dirty = built, False
        return built

    def _watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Mark the world dirty on any call whose effect ``_clear`` would not undo."""
        from botocore.client import BaseClient

        original = BaseClient._make_api_call
        world = self

        def watched_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if not operation_name.startswith(READ_PREFIXES) and operation_name not in RESETTABLE_WRITES.get(
                client.meta.service_model.signing_name, ()
            ):
                if not world._dirty:
                    world._dirty = True
                    world.rebuilt_for[f"{client.meta.service_model.signing_name}:{operation_name}"] += 1
            return original(client, operation_name, api_params)

        monkeypatch.setattr(BaseClient, "_make_api_call", watched_call)

    def _remember(self, built: Built) -> None:
        """The moto objects the build made: if one is no longer there, something else reset moto."""
        built._objects = [(lookup, lookup()) for lookup in self._lookups(built)]

    def _lookups(self, built: Built) -> list[Callable[[], Any]]:
        from moto.dynamodb.models import dynamodb_backends
        from moto.events.models import events_backends
        from moto.secretsmanager.models import secretsmanager_backends
        from moto.sqs.models import sqs_backends
        from moto.ssm.models import ssm_backends

        account, region = self.account, self.region

        def table(name: str) -> Callable[[], Any]:
            return lambda: dynamodb_backends[account][region].tables.get(name)

        def queue(name: str) -> Callable[[], Any]:
            return lambda: sqs_backends[account][region].queues.get(name)

        def secret(name: str) -> Callable[[], Any]:  # dict.get: SecretsStore's own lookup scans every ARN
            return lambda: dict.get(secretsmanager_backends[account][region].secrets, name)

        def bus(name: str) -> Callable[[], Any]:
            return lambda: events_backends[account][region].event_buses.get(name)

        return [
            *(table(name) for name in built.tables.values()),
            *(queue(url.rsplit("/", 1)[1]) for url in built.queue_urls.values()),
            *(secret(name) for name in built.secret_names),
            *(bus(name) for name in built.bus_names),
            lambda: ssm_backends[account][region]._parameters,
        ]

    @staticmethod
    def _intact(built: Built) -> bool:
        return all(current() is remembered for current, remembered in built._objects)

    def _clear(self, built: Built) -> None:
        """Forget every item, message and parameter, as a new build would not have them."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.sqs.models import sqs_backends
        from moto.ssm.models import ssm_backends

        dynamodb = dynamodb_backends[self.account][self.region]
        for name in built.tables.values():
            table = dynamodb.tables[name]
            table.items.clear()
            if table.stream_shard is not None:
                table.stream_shard.items.clear()
        sqs = sqs_backends[self.account][self.region]
        for url in built.queue_urls.values():
            queue = sqs.queues[url.rsplit("/", 1)[1]]
            with queue._messages_lock:
                queue._messages.clear()
                queue._pending_messages.clear()
                queue.deleted_messages.clear()
                queue.last_purged_at = None
        ssm = ssm_backends[self.account][self.region]
        ssm._parameters.clear()
        ssm._resource_tags.clear()
