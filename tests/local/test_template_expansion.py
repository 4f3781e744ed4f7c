"""Fn::ForEach (AWS::LanguageExtensions) expanded locally as CloudFormation expands it, and Fn::FindInMap resolved."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from local_stack.resolver import PSEUDO_PARAMETERS, Resolver, TemplateError
from local_stack.template import (
    TEMPLATE_PATH,
    _CloudFormationLoader,
    expand_for_each,
    load_template,
    parameter_defaults,
)

TRANSFORM = "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"


def _parse(text: str, transform: str = TRANSFORM) -> dict[str, Any]:
    """A template: ``transform`` then ``text`` (indented as in the test, or not)."""
    data: dict[str, Any] = yaml.load(transform + textwrap.dedent(text), Loader=_CloudFormationLoader)  # noqa: S506
    return data


def test_a_loop_makes_one_copy_per_name_with_the_identifier_replaced() -> None:
    # Given a loop in Resources and a nested one in Outputs (the shapes of CloudFormation's own examples)
    template = _parse(
        """
        Resources:
          Plain:
            Type: AWS::SNS::Topic
          Fn::ForEach::Queues:
            - Name
            - [Orders, dead-letters]
            - "&{Name}Queue":
                Type: AWS::SQS::Queue
                Properties:
                  QueueName: !Sub ${AWS::StackName}-${Name}
                  Tags: [{Key: kind, Value: !Ref Name}, {Key: note, Value: "${Name} queue"}]
              "&{Name}Alarm":
                Type: AWS::CloudWatch::Alarm
                Properties:
                  AlarmDescription: !Sub "${Name} has messages"
                  Dimensions: [{Name: QueueName, Value: {"Fn::GetAtt": [!Sub "&{Name}Queue", QueueName]}}]
                  AlarmActions: [{Ref: !Sub "&{Name}Queue"}]
        Outputs:
          Fn::ForEach::QueueOutputs:
            - Name
            - [Orders]
            - Fn::ForEach::Attributes:
                - Attribute
                - [Arn, QueueName]
                - "${Name}${Attribute}":
                    Value: !GetAtt [!Sub "${Name}Queue", !Ref Attribute]
        """
    )

    # When it is expanded
    expanded = expand_for_each(template)

    # Then each name has its copies, named and filled in as CloudFormation does ($ as is, & alphanumerics only)
    resources = expanded["Resources"]
    assert list(resources) == ["Plain", "OrdersQueue", "OrdersAlarm", "deadlettersQueue", "deadlettersAlarm"]
    assert resources["deadlettersQueue"]["Properties"] == {
        "QueueName": {"Fn::Sub": "${AWS::StackName}-dead-letters"},  # other variables are left for the Sub
        "Tags": [{"Key": "kind", "Value": "dead-letters"}, {"Key": "note", "Value": "dead-letters queue"}],
    }
    # A Sub left with no variables is its text, so a Ref or GetAtt of a !Sub name is a plain one.
    assert resources["OrdersAlarm"]["Properties"] == {
        "AlarmDescription": "Orders has messages",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["OrdersQueue", "QueueName"]}}],
        "AlarmActions": [{"Ref": "OrdersQueue"}],
    }
    assert expanded["Outputs"] == {
        "OrdersArn": {"Value": {"Fn::GetAtt": ["OrdersQueue", "Arn"]}},
        "OrdersQueueName": {"Value": {"Fn::GetAtt": ["OrdersQueue", "QueueName"]}},
    }
    assert "Fn::ForEach::Queues" in template["Resources"]  # the template given is left as it was


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (  # CloudFormation runs no loop without the transform
            "Transform: AWS::Serverless-2016-10-31\n"
            "Resources: {Fn::ForEach::Q: [N, [A], {'${N}Queue': {Type: AWS::SQS::Queue}}]}\n",
            "needs the AWS::LanguageExtensions transform",
        ),
        (  # a CommaDelimitedList parameter: its value is known only at deploy time
            TRANSFORM
            + "Resources: {Fn::ForEach::Q: [N, !Ref Names, {'${N}Queue': {Type: AWS::SQS::Queue}}]}\n",
            "only a literal list of strings",
        ),
        (
            TRANSFORM + "Resources: {Fn::ForEach::Q: [N, [A, B], {Queue: {Type: AWS::SQS::Queue}}]}\n",
            "does not use ${N}",
        ),
        (
            TRANSFORM + "Resources: {Fn::ForEach::Q: [N, [A, A], {'${N}Queue': {Type: AWS::SQS::Queue}}]}\n",
            "AQueue is declared twice",
        ),
        (
            TRANSFORM + "Resources:\n  AQueue: {Type: AWS::SQS::Queue}\n"
            "  Fn::ForEach::Q: [N, [A], {'${N}Queue': {Type: AWS::SQS::Queue}}]\n",
            "AQueue is declared twice",
        ),
        (TRANSFORM + "Resources: {Fn::ForEach::Q: [N, [A]]}\n", "expected [identifier, collection, output]"),
    ],
)
def test_what_the_expander_cannot_do_as_cloudformation_does_fails_loudly(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        expand_for_each(_parse(text, transform=""))


def test_load_template_expands_the_loops_and_can_give_the_template_as_written(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        TRANSFORM + "Resources: {Fn::ForEach::Q: [N, [A, B], {'${N}Queue': {Type: AWS::SQS::Queue}}]}\n"
    )

    assert set(load_template(path)["Resources"]) == {"AQueue", "BQueue"}
    assert set(load_template(path, as_written=True)["Resources"]) == {"Fn::ForEach::Q"}


def test_find_in_map_resolves_through_the_mappings_and_a_missing_entry_is_an_error() -> None:
    template = _parse(
        """
        Mappings:
          Functions:
            CreatePayment: {LogName: create-payment}
        Parameters:
          Which: {Type: String, Default: CreatePayment}
        """
    )
    resolver = Resolver(template, parameter_defaults(template), refs={}, attributes={})

    found = resolver.resolve({"Fn::FindInMap": ["Functions", {"Ref": "Which"}, "LogName"]})
    assert found == "create-payment"
    with pytest.raises(TemplateError, match=re.escape("no Functions.Refund.LogName in Mappings")):
        resolver.resolve({"Fn::FindInMap": ["Functions", "Refund", "LogName"]})


def test_template_yaml_expands_as_sam_cli_expands_it() -> None:
    """The resources template.yaml's loops make are those SAM CLI's implementation of AWS::LanguageExtensions
    makes, alike once both are resolved for one stack (SAM CLI resolves parameters and mappings itself)."""
    from samcli.lib.cfn_language_extensions.api import process_template
    from samcli.lib.cfn_language_extensions.models import PseudoParameterValues

    as_written = load_template(TEMPLATE_PATH, as_written=True)
    parameters = {**parameter_defaults(as_written), "ResultPageUrl": "https://shop.example.com/result"}
    pseudo = PseudoParameterValues(
        region=PSEUDO_PARAMETERS["AWS::Region"],
        account_id=PSEUDO_PARAMETERS["AWS::AccountId"],
        stack_name=PSEUDO_PARAMETERS["AWS::StackName"],
    )
    theirs = process_template(as_written, parameter_values=parameters, pseudo_parameters=pseudo)
    ours = load_template(TEMPLATE_PATH)

    def generated(template: dict[str, Any]) -> dict[str, Any]:
        resolver = Resolver(
            template,
            parameters,
            refs={logical_id: f"ref:{logical_id}" for logical_id in template["Resources"]},
            attributes=_AnyAttribute(),
        )
        return {
            logical_id: resolver.resolve(resource)
            for logical_id, resource in template["Resources"].items()
            if logical_id not in as_written["Resources"]
        }

    assert "Fn::ForEach::FunctionLogsAndAlarms" in as_written["Resources"]
    assert "Fn::ForEach::EventSchemas" in as_written["Resources"]
    # 9 functions: a log group, an Errors and a Throttles alarm each; and one schema per event detail-type
    schemas = len(list((TEMPLATE_PATH.parent / "schemas" / "events").glob("*.json")))
    assert len(generated(ours)) == 27 + schemas
    assert generated(ours) == generated(theirs)


class _AnyAttribute(dict[tuple[str, str], str]):
    """Fn::GetAtt of any resource: a name for it (both sides only have to agree)."""

    def __missing__(self, key: tuple[str, str]) -> str:
        return f"att:{key[0]}.{key[1]}"


def test_expand_template_writes_what_checkov_scans(tmp_path: Path) -> None:
    """checkov passes over Fn::ForEach: `make lint` gives it this expansion, with the loops' resources."""
    from local_stack.__main__ import main

    output = tmp_path / "expanded" / "template.json"
    assert main(["expand-template", "--output", str(output)]) == 0

    resources = json.loads(output.read_text())["Resources"]
    assert not [key for key in resources if key.startswith("Fn::ForEach::")]
    group = resources["StatusPollerLogGroup"]
    assert group["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_158"  # the reason travels with it
    assert resources["StatusPollerThrottlesAlarm"]["Properties"]["MetricName"] == "Throttles"
