"""The embedded AWS emulator: moto in server mode, provisioned from template.yaml's own resources.

Functions reach it through ``AWS_ENDPOINT_URL`` (boto3 honours it natively), so their code is unchanged.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import urllib3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local_stack import moto_transactions
from local_stack.resolver import PSEUDO_PARAMETERS, Resolver
from local_stack.template import dynamodb_tables, resources_of_type

REGION = PSEUDO_PARAMETERS["AWS::Region"]
ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
# moto accepts any credentials; these make sure nothing ever reaches a real account by accident.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
TAP_QUEUE_NAME = "local-partner-tap"
TAP_RULE_NAME = "local-partner-tap"

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)

log = logging.getLogger("local_stack")

_NameOf = Callable[[Mapping[str, Any], str, str], str]  # (resource, name property, logical id) -> name


class MotoServer:
    """moto's server on loopback; ``port=0`` picks a free port.

    moto's WSGI application served as its ``ThreadedMotoServer`` serves it, but polling for shutdown every 20 ms
    (ThreadedMotoServer's 0.5 s default was added to every stop of a stack).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        moto_transactions.install()  # moto's own cancelled transactions undo other requests' writes
        if self._port:  # werkzeug would print its own message and exit the process on a busy port
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((self._host, self._port))  # OSError "Address already in use"
        app = DomainDispatcherApplication(create_backend_app)
        self._server = server = make_server(self._host, self._port, app, threaded=True)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="moto-server", daemon=True
        )
        self._thread.start()
        host, port = str(server.server_address[0]), int(server.server_address[1])
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - mapping a wildcard bind
        self.endpoint_url = f"http://{host}:{port}"
        # moto's state is per process, not per server: start from nothing, like a new AWS account.
        urllib3.request("POST", f"{self.endpoint_url}/moto-api/reset", retries=False)
        return self.endpoint_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.shutdown()
            thread.join()
            server.server_close()
        self._server = self._thread = None
        self.endpoint_url = ""


def client(service: Any, endpoint_url: str) -> Any:
    """A boto3 client for the emulator (never the real AWS: explicit endpoint and fake credentials)."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


@dataclass
class Provisioned:
    """What the template's resources are called locally: ``Ref`` and ``Fn::GetAtt`` values, plus the tap."""

    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    tap_queue_url: str = ""


def provision(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    endpoint_url: str,
    *,
    template_dir: Path,
    secret_values: Mapping[str, str],
) -> Provisioned:
    """Create the template's tables, queues, buses, secrets and parameters in the emulator.

    Names come from the resources' own name properties, else their logical ids. Every secret is filled with
    ``secret_values`` (the sandbox's local credentials): the template cannot hold real secret values.
    """
    out = Provisioned()
    template = _created_resources(template, parameters)
    name_of = _namer(template, parameters)

    provision_tables(template, client("dynamodb", endpoint_url), parameters, out)
    provision_queues(template, client("sqs", endpoint_url), parameters, out)
    _provision_buses(template, endpoint_url, out, name_of)
    _provision_secrets(template, endpoint_url, out, name_of, secret_values)
    _provision_parameters(template, parameters, endpoint_url, out, name_of)

    for logical_id, resource in {
        **resources_of_type(template, "AWS::Serverless::LayerVersion"),
        **resources_of_type(template, "AWS::Lambda::LayerVersion"),
    }.items():
        properties = resource.get("Properties", {})
        content = properties.get("ContentUri") or properties.get("Content")
        if not isinstance(content, str):
            raise ValueError(f"layer {logical_id}: only a local ContentUri directory can run locally")
        out.refs[logical_id] = str((template_dir / content).resolve())
    # Nothing enforces IAM locally, so managed policies are only named: Ref gives the ARN, as in CloudFormation.
    for logical_id, resource in resources_of_type(template, "AWS::IAM::ManagedPolicy").items():
        policy_name = name_of(resource, "ManagedPolicyName", logical_id)
        path = str(resource.get("Properties", {}).get("Path", "/"))
        arn = f"arn:aws:iam::{ACCOUNT_ID}:policy{path}{policy_name}"
        out.refs[logical_id] = arn
        out.attributes[(logical_id, "PolicyArn")] = arn
    # The functions' logs go to the local stack's own sink, so log groups are only named (LoggingConfig refers
    # to them): Ref gives the name and GetAtt Arn the ARN, as in CloudFormation.
    for logical_id, resource in resources_of_type(template, "AWS::Logs::LogGroup").items():
        group_name = name_of(resource, "LogGroupName", logical_id)
        out.refs[logical_id] = group_name
        out.attributes[(logical_id, "Arn")] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{group_name}:*"
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        function_name = name_of(resource, "FunctionName", logical_id)
        out.refs[logical_id] = function_name
        out.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
    return out


def _created_resources(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template without the resources whose Condition is false (CloudFormation does not create them)."""
    names = Resolver(template, parameters, refs={}, attributes={})
    return {
        **template,
        "Resources": {k: v for k, v in template.get("Resources", {}).items() if names.included(v)},
    }


def _namer(template: Mapping[str, Any], parameters: Mapping[str, str]) -> _NameOf:
    """A resource's name: its name property (which may only use parameters), else its logical id."""
    names = Resolver(template, parameters, refs={}, attributes={})

    def name_of(resource: Mapping[str, Any], name_property: str, logical_id: str) -> str:
        raw = resource.get("Properties", {}).get(name_property)
        return str(names.resolve(raw)) if raw is not None else logical_id

    return name_of


def _provisioning(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None, out: Provisioned | None
) -> tuple[dict[str, Any], _NameOf, Provisioned]:
    """The resources a stack with ``parameters`` creates, how each is named, and where refs are collected."""
    parameters = parameters or {}
    created = _created_resources(template, parameters)
    return created, _namer(created, parameters), out if out is not None else Provisioned()


def provision_tables(
    template: Mapping[str, Any],
    dynamodb: Any,
    parameters: Mapping[str, str] | None = None,
    out: Provisioned | None = None,
) -> Provisioned:
    """Create the template's DynamoDB tables (with TTL) through ``dynamodb`` (any client: server or in-process)."""
    template, name_of, out = _provisioning(template, parameters, out)
    resources = resources_of_type(template, "AWS::DynamoDB::Table")
    for logical_id, kwargs in dynamodb_tables(dict(template)).items():
        resource = resources[logical_id]
        kwargs = {**kwargs, "TableName": name_of(resource, "TableName", logical_id)}
        stream = kwargs.get("StreamSpecification")
        if stream is not None:  # CloudFormation implies StreamEnabled; the API wants it spelled out
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **stream}
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = resource.get("Properties", {}).get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=kwargs["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        out.refs[logical_id] = kwargs["TableName"]
        out.attributes[(logical_id, "Arn")] = description["TableArn"]
        if "LatestStreamArn" in description:
            out.attributes[(logical_id, "StreamArn")] = description["LatestStreamArn"]
    return out


def provision_queues(
    template: Mapping[str, Any],
    sqs: Any,
    parameters: Mapping[str, str] | None = None,
    out: Provisioned | None = None,
) -> Provisioned:
    """Create the template's SQS queues with their attributes, then their redrive policies (DLQs exist by then)."""
    template, name_of, out = _provisioning(template, parameters, out)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    for logical_id, resource in queues.items():  # first all queues, so redrive targets exist
        properties = resource.get("Properties", {})
        queue_name = name_of(resource, "QueueName", logical_id)
        if properties.get("FifoQueue") and not queue_name.endswith(".fifo"):
            queue_name += ".fifo"
        attributes = {
            key: _attribute_string(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties
        }
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        out.refs[logical_id] = url
        out.attributes[(logical_id, "Arn")] = arn
        out.attributes[(logical_id, "QueueName")] = queue_name
        out.attributes[(logical_id, "QueueUrl")] = url
    resolver = Resolver(template, parameters or {}, out.refs, out.attributes)
    for logical_id, resource in queues.items():  # then the redrive policies that point at them
        redrive = resource.get("Properties", {}).get("RedrivePolicy")
        if redrive is not None:
            sqs.set_queue_attributes(
                QueueUrl=out.refs[logical_id],
                Attributes={"RedrivePolicy": json.dumps(resolver.resolve(redrive))},
            )
    return out


def _provision_buses(
    template: Mapping[str, Any], endpoint_url: str, out: Provisioned, name_of: _NameOf
) -> None:
    events = client("events", endpoint_url)
    sqs = client("sqs", endpoint_url)
    tap_url = sqs.create_queue(QueueName=TAP_QUEUE_NAME)["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    out.tap_queue_url = tap_url
    for logical_id, resource in resources_of_type(template, "AWS::Events::EventBus").items():
        bus_name = name_of(resource, "Name", logical_id)
        arn = events.create_event_bus(Name=bus_name)["EventBusArn"]
        out.refs[logical_id] = bus_name
        out.attributes[(logical_id, "Arn")] = arn
        out.attributes[(logical_id, "Name")] = bus_name
        # The "partner tap": what a partner's own rule would do, so the demo and tests can read the events.
        events.put_rule(
            Name=TAP_RULE_NAME, EventBusName=bus_name, EventPattern=json.dumps({"source": [{"prefix": ""}]})
        )
        events.put_targets(Rule=TAP_RULE_NAME, EventBusName=bus_name, Targets=[{"Id": "tap", "Arn": tap_arn}])


def _provision_secrets(
    template: Mapping[str, Any],
    endpoint_url: str,
    out: Provisioned,
    name_of: _NameOf,
    secret_values: Mapping[str, str],
) -> None:
    secrets = client("secretsmanager", endpoint_url)
    for logical_id, resource in resources_of_type(template, "AWS::SecretsManager::Secret").items():
        secret_name = name_of(resource, "Name", logical_id)
        arn = secrets.create_secret(Name=secret_name, SecretString=json.dumps(dict(secret_values)))["ARN"]
        out.refs[logical_id] = arn  # Ref of a secret is its ARN, as in CloudFormation
        out.attributes[(logical_id, "Id")] = arn


def _provision_parameters(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    endpoint_url: str,
    out: Provisioned,
    name_of: _NameOf,
) -> None:
    ssm = client("ssm", endpoint_url)
    resolver = Resolver(template, parameters or {}, out.refs, out.attributes)
    for logical_id, resource in resources_of_type(template, "AWS::SSM::Parameter").items():
        properties = resolver.resolve(resource.get("Properties", {}))
        parameter_name = properties.get("Name") or logical_id
        ssm.put_parameter(
            Name=parameter_name,
            Value=str(properties["Value"]),
            Type=properties.get("Type", "String"),
            Overwrite=True,
        )
        out.refs[logical_id] = parameter_name
        out.attributes[(logical_id, "Type")] = properties.get("Type", "String")
        out.attributes[(logical_id, "Value")] = str(properties["Value"])


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
