"""The runner's machinery on a throwaway template: isolation, env, API mapping, queues, schedules, errors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from local_stack.partner_auth import LOCAL_ACCESS_KEY_ID
from local_stack.stack import LocalStack, StackOptions

from tests.local.local_kit import partner_request

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Mappings:
  Logs:
    Echo: {Name: echo-fn}
    Worker: {Name: worker-fn}
Parameters:
  Stage:
    Type: String
    Default: test
  NoDefault:
    Type: String
Conditions:
  IsTest: !Equals [!Ref Stage, test]
Globals:
  Function:
    Runtime: python3.13
    Timeout: 5
    Layers: [!Ref SharedLayer]
    Environment:
      Variables:
        TABLE: !Ref ItemsTable
        QUEUE_URL: !Ref WorkQueue
        BUS: !Ref Bus
        SECRET: !Ref Secret
        GREETING: !Sub "hello-${Stage}-${AWS::Region}"
        MODE: !If [IsTest, testing, real]
        NEEDS: !Ref NoDefault
Resources:
  Fn::ForEach::LogGroups:
    - Fn
    - [Echo, Worker]
    - ${Fn}LogGroup:
        Type: AWS::Logs::LogGroup
        Properties:
          LogGroupName: !Sub ["/aws/lambda/${Stage}/${Name}", {Name: !FindInMap [Logs, !Ref Fn, Name]}]
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  ItemsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDlq.Arn
        maxReceiveCount: 2
  WorkDlq:
    Type: AWS::SQS::Queue
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "bus-${Stage}"
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "app/${Stage}/credentials"
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: AWS_IAM
        EnableIamAuthorizer: true
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Handler: app.handler
      LoggingConfig: {LogGroup: !Ref EchoLogGroup}
      Environment:
        Variables:
          OWN: mine
          LOG_GROUPS: !Join [",", [!Ref EchoLogGroup, !GetAtt WorkerLogGroup.Arn]]
      Events:
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{itemId}", Method: GET}
        Post:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /items, Method: POST, Auth: {Authorizer: NONE}}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Timeout: 1
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes)}
"""

ECHO = """
import importlib, json, os, sys
import shared  # from the layer

def importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True

def handler(event, context):
    print("a log line that must not break the protocol")
    if event.get("queryStringParameters", {}).get("fail"):
        raise ValueError("asked to fail")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-cold": "1"},
        "cookies": ["a=1"],
        "body": json.dumps({
            "event": event,
            "env": dict(os.environ),
            "path": sys.path,
            "shared": shared.VALUE,
            "remaining": context.get_remaining_time_in_millis(),
            "pid": os.getpid(),
            "importable": {name: importable(name) for name in ("awscrt", "OpenSSL", "boto3", "urllib3")},
        }),
    }
"""

WORKER = """
import time

def handler(event, context):
    if "Records" not in event:
        return {"scheduled": event.get("detail-type")}
    if event["Records"][0]["body"] == "sleep":
        time.sleep(3)
    failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
    return {"batchItemFailures": failures}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = tmp_path_factory.mktemp("project")
    _write(root / "template.yaml", TEMPLATE)
    _write(root / "layer" / "shared.py", "VALUE = 'from-layer'\n")
    _write(root / "functions" / "echo" / "app.py", ECHO)
    _write(root / "functions" / "worker" / "app.py", WORKER)
    options = StackOptions(
        template_path=root / "template.yaml",
        api_port=0,
        moto_port=0,
        sandbox_port=0,
        with_sandbox=False,
        event_sources=False,
        parameter_overrides={"NoDefault": "given"},
        env_vars={"EchoFunction": {"FROM_ENV_VARS": "yes"}},
    )
    with LocalStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager(retries=False)


def _echo(stack: LocalStack, http: urllib3.PoolManager, method: str, path: str, **kwargs: Any) -> Any:
    """Signed with the local credentials, as the IAM route requires (the public route ignores it)."""
    response = partner_request(http, method, f"{stack.api_url}{path}", **kwargs)
    assert response.status == 200, response.data
    return response, json.loads(response.data)


def test_function_environment_comes_from_the_template_resolved_locally(stack: LocalStack, http: Any) -> None:
    _, body = _echo(stack, http, "GET", "/items/42")
    env = body["env"]
    assert env["TABLE"] == "ItemsTable"
    assert env["QUEUE_URL"].startswith(stack.endpoint_url) and env["QUEUE_URL"].endswith("/WorkQueue")
    assert env["BUS"] == "bus-test"
    assert env["SECRET"].startswith(
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/test/credentials"
    )
    assert env["GREETING"] == "hello-test-eu-west-1"
    assert env["MODE"] == "testing"
    assert env["NEEDS"] == "given"
    assert env["OWN"] == "mine"
    assert env["FROM_ENV_VARS"] == "yes"
    assert env["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert env["PUBLIC_BASE_URL"] == stack.api_url
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert "VIRTUAL_ENV" not in env and "PYTEST_CURRENT_TEST" not in env  # nothing leaks from the runner


def test_resources_a_loop_makes_are_provisioned_as_if_written_out(stack: LocalStack, http: Any) -> None:
    """Fn::ForEach (AWS::LanguageExtensions) made EchoLogGroup and WorkerLogGroup; Fn::FindInMap named them."""
    _, body = _echo(stack, http, "GET", "/items/7")
    assert body["env"]["LOG_GROUPS"] == (
        "/aws/lambda/test/echo-fn,arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/test/worker-fn:*"
    )


def test_function_imports_only_its_code_and_its_layers(stack: LocalStack, http: Any) -> None:
    _, body = _echo(stack, http, "GET", "/items/1")
    assert body["shared"] == "from-layer"
    project_paths = [p for p in body["path"] if "site-packages" not in p and "/lib/python" not in p]
    assert project_paths[0].endswith("functions/echo")
    assert project_paths[1].endswith("layer")
    assert len(project_paths) == 2, project_paths
    # What Lambda's runtime lacks is not there either, though the development venv has it.
    assert body["importable"] == {"awscrt": False, "OpenSSL": False, "boto3": True, "urllib3": True}
    assert 4000 < body["remaining"] <= 5000  # the template's Timeout


def test_warm_container_is_reused(stack: LocalStack, http: Any) -> None:
    _, first = _echo(stack, http, "GET", "/items/1")
    _, second = _echo(stack, http, "GET", "/items/2")
    assert first["pid"] == second["pid"]


def test_http_api_v2_event(stack: LocalStack, http: Any) -> None:
    response, body = _echo(
        stack,
        http,
        "GET",
        "/items/a%20b?x=1&x=2&y=",
        headers={"Cookie": "c1=v1; c2=v2", "X-Thing": "t"},
    )
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{itemId}"
    assert event["pathParameters"] == {"itemId": "a b"}
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-thing"] == "t" and "cookie" not in event["headers"]
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == LOCAL_ACCESS_KEY_ID  # the signer's
    assert event["isBase64Encoded"] is False and "body" not in event
    assert response.headers["x-cold"] == "1"
    assert response.headers["Set-Cookie"] == "a=1"


def test_bodies_text_and_binary(stack: LocalStack, http: Any) -> None:
    _, body = _echo(
        stack, http, "POST", "/items", body=b'{"a": 1}', headers={"Content-Type": "application/json"}
    )
    assert body["event"]["body"] == '{"a": 1}' and body["event"]["isBase64Encoded"] is False
    assert "authorizer" not in body["event"]["requestContext"]  # Authorizer: NONE
    _, body = _echo(
        stack, http, "POST", "/items", body=b"\xff\x00", headers={"Content-Type": "application/octet-stream"}
    )
    assert body["event"]["body"] == "/wA=" and body["event"]["isBase64Encoded"] is True


def test_unknown_route_and_method_are_404_like_api_gateway(stack: LocalStack, http: Any) -> None:
    for method, path in (("GET", "/nope"), ("DELETE", "/items/1"), ("GET", "/items"), ("GET", "/items/1/x")):
        response = http.request(method, f"{stack.api_url}{path}")
        assert response.status == 404
        assert json.loads(response.data) == {"message": "Not Found"}


def test_function_error_is_a_generic_500(stack: LocalStack, http: Any) -> None:
    response = partner_request(http, "GET", f"{stack.api_url}/items/1?fail=1")
    assert response.status == 500
    assert json.loads(response.data) == {"message": "Internal Server Error"}
    result = stack.invoke("EchoFunction", {"queryStringParameters": {"fail": "1"}})
    assert result.error is not None and result.error["errorType"] == "ValueError"


def test_tables_and_ttl_from_the_template(stack: LocalStack) -> None:
    dynamodb = stack.client("dynamodb")
    assert dynamodb.describe_table(TableName="ItemsTable")["Table"]["KeySchema"] == [
        {"AttributeName": "id", "KeyType": "HASH"}
    ]
    ttl = dynamodb.describe_time_to_live(TableName="ItemsTable")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiresAt"


def test_sqs_source_partial_batch_failures_and_redrive(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    queue_url = stack.provisioned.refs["WorkQueue"]
    dlq_url = stack.provisioned.refs["WorkDlq"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="good")
    sqs.send_message(QueueUrl=queue_url, MessageBody="bad")
    outcome = stack.poll_queue("WorkerFunction")
    assert (outcome.received, outcome.deleted, outcome.failed) == (2, 1, 1)
    # The bad one comes back after the visibility timeout, then goes to the DLQ after maxReceiveCount.
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stack.poll_queue("WorkerFunction")
        dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0).get("Messages", [])
        if dead:
            assert dead[0]["Body"] == "bad"
            break
        time.sleep(0.3)
    else:
        pytest.fail("the failing message never reached the DLQ")


def test_timeout_kills_the_container(stack: LocalStack) -> None:
    result = stack.invoke("WorkerFunction", {"Records": [{"messageId": "1", "body": "sleep"}]})
    assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
    assert stack.invoke("WorkerFunction", {"Records": [{"messageId": "1", "body": "ok"}]}).cold


def test_schedule_runs_on_demand(stack: LocalStack) -> None:
    result = stack.run_schedule("WorkerFunction")
    assert result.result == {"scheduled": "Scheduled Event"}
    assert stack.schedules["WorkerFunction"].interval == 300


def test_a_busy_port_fails_the_start_cleanly(stack: LocalStack) -> None:
    import socket

    moto_port = int(stack.endpoint_url.rsplit(":", 1)[1])  # taken by the running stack
    options = StackOptions(
        template_path=stack.options.template_path,
        api_port=0,
        moto_port=moto_port,
        with_sandbox=False,
        event_sources=False,
        parameter_overrides={"NoDefault": "given"},
    )
    second = LocalStack(options)
    with pytest.raises(OSError, match="in use"):
        second.start()
    assert second._api is not None
    api_port = int(second._api.base_url.rsplit(":", 1)[1])
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", api_port))  # the API it had bound is released again
