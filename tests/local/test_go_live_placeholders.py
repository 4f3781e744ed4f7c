"""The go-live check fails on every placeholder it can see: samconfig.toml's example ResultPageUrl and AlarmEmail,
and an alarm topic nobody confirmed a subscription to (the secret's REPLACE_ME is step 1's own test). A deployed
stack on moto: the template's Parameters, its AlarmTopic and the outputs the check reads."""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from go_live.__main__ import main
from go_live.context import Check, Options
from go_live.placeholder_steps import alarm_subscription, result_page
from go_live.target import deployed_target
from local_stack.template import PROJECT_ROOT, load_template

STACK = "pay1st-partner-golive"
MAKE = shutil.which("make") or "make"


def deploy(**parameters: str) -> None:
    real = load_template()
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": copy.deepcopy(real["Parameters"]),
        "Resources": {
            "WebhookEventsTable": copy.deepcopy(real["Resources"]["WebhookEventsTable"]),
            "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        },
        "Outputs": {
            "ApiUrl": {"Value": "http://127.0.0.1:9"},
            "CredentialsSecretName": copy.deepcopy(real["Outputs"]["CredentialsSecretName"]),
            "WebhookEventsTableName": {"Value": {"Ref": "WebhookEventsTable"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        },
    }
    values = {"ResultPageUrl": "https://shop.example.com/payment-result", **parameters}
    boto3.client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()],
    )
    boto3.client("secretsmanager").create_secret(
        Name=f"{STACK}/pay1st/credentials",
        SecretString=real["Resources"]["Pay1stCredentialsSecret"]["Properties"]["SecretString"],
    )


def check() -> Check:
    return Check(deployed_target(STACK, boto3.Session()), Options(), progress=io.StringIO())


def topic_arn() -> str:
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "AlarmTopicArn")


def test_samconfigs_placeholders_fail_the_check_with_exit_1(cloud: None) -> None:
    """Given a stack deployed with the values samconfig.toml ships (shop.example.com, payments-oncall@example.com),
    when the whole check runs, then both steps fail naming the placeholder, and the check exits 1 (the old check
    had no such steps and could say "ready for go-live")."""
    deploy(AlarmEmail="payments-oncall@example.com")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--stack", STACK, "--json"], out=out, err=err)
    result = json.loads(out.getvalue())
    steps = {step["id"]: step for step in result["steps"]}
    assert code == 1 and not result["ok"]
    assert steps["result-page"]["status"] == "failed"
    assert (
        "ResultPageUrl=https://shop.example.com/payment-result is a placeholder"
        in steps["result-page"]["reason"]
    )
    assert steps["alarms"]["status"] == "failed"
    assert "AlarmEmail=payments-oncall@example.com is a placeholder" in steps["alarms"]["reason"]
    assert steps["secret"]["status"] == "failed" and "placeholder" in steps["secret"]["reason"]  # REPLACE_ME


def test_real_values_with_a_confirmed_subscription_pass(cloud: None) -> None:
    # Given the partner's own result page and an on-call address whose subscription is confirmed
    deploy(ResultPageUrl="https://shop.co.za/payment-result", AlarmEmail="oncall@shop.co.za")
    boto3.client("sns").subscribe(TopicArn=topic_arn(), Protocol="email", Endpoint="oncall@shop.co.za")
    # Then both steps pass and say where alarms go
    assert result_page(check()).status == "passed"
    outcome = alarm_subscription(check())
    assert outcome.status == "passed" and outcome.reason == "alarms reach email:oncall@shop.co.za"


def test_an_alarm_topic_nobody_subscribed_to_fails(cloud: None) -> None:
    deploy(ResultPageUrl="https://shop.co.za/payment-result", AlarmEmail="")
    outcome = alarm_subscription(check())
    assert outcome.status == "failed" and "nobody is subscribed to the alarm topic" in outcome.reason
    assert topic_arn() in str(outcome.fix)


def test_a_subscription_not_confirmed_yet_fails(cloud: None) -> None:
    """Given the on-call address subscribed but not confirmed (SNS lists it as PendingConfirmation; moto confirms
    e-mail at once, so SNS's answer is stubbed on the stack's own client)."""
    deploy(ResultPageUrl="https://shop.co.za/payment-result", AlarmEmail="oncall@shop.co.za")
    target_check = check()
    topic = topic_arn()
    stubber = Stubber(target_check.target.sns)
    stubber.add_response(
        "list_subscriptions_by_topic",
        {
            "Subscriptions": [
                {
                    "SubscriptionArn": "PendingConfirmation",
                    "Owner": "123456789012",
                    "Protocol": "email",
                    "Endpoint": "oncall@shop.co.za",
                    "TopicArn": topic,
                }
            ]
        },
        {"TopicArn": topic},
    )
    with stubber:
        outcome = alarm_subscription(target_check)
    # Then the step fails naming the address and what to do
    assert outcome.status == "failed"
    assert "oncall@shop.co.za not confirmed yet" in outcome.reason and "confirm it" in str(outcome.fix)


@pytest.mark.parametrize(
    ("code", "line"),
    [(1, "go-live check exit 1: a step failed"), (2, "go-live check exit 2: the stack could not be checked")],
)
def test_make_says_the_checks_exit_code(tmp_path: Path, code: int, line: str) -> None:
    """make exits 2 for any failed recipe; the target says which of the check's codes it was (and make's
    "Error N" carries it): a stand-in interpreter exits with the code."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f"#!/bin/sh\nexit {code}\n", encoding="utf-8")
    os.chmod(fake / "python", 0o755)  # noqa: S103 - a test's own script
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [MAKE, "-o", ".venv/.installed", "go-live-check", f"BIN={fake}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert line in result.stderr and f"Error {code}" in result.stderr
    assert result.returncode == 2  # make's own
