"""local_stack.iam reads a function's policies as IAM would grant them: inline statements and the template's own
managed policies it references; anything whose grant the template does not spell out is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from local_stack.iam import Statement, allowed, function_policies
from local_stack.resolver import Resolver, TemplateError

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Locks"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:creds-AbCdEf"

TEMPLATE: dict[str, Any] = {
    "Parameters": {"OutsidePolicyArn": {"Type": "String", "Default": "arn:aws:iam::aws:policy/Admin"}},
    "Resources": {
        "Shared": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "secretsmanager:GetSecretValue",
                            "Resource": {"Ref": "Secret"},
                        },
                        {
                            "Sid": "Lease",
                            "Effect": "Allow",
                            "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
                            "Resource": {"Fn::GetAtt": ["Locks", "Arn"]},
                        },
                    ],
                }
            },
        },
        "Locks": {"Type": "AWS::DynamoDB::Table"},
        "Secret": {"Type": "AWS::SecretsManager::Secret"},
        "WithShared": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Policies": [
                    {"Ref": "Shared"},
                    {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:own"}]},
                ]
            },
        },
        "InlineOnly": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Policies": [
                    {"Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q"}]}
                ]
            },
        },
    },
}


def _policies(template: dict[str, Any]) -> dict[str, tuple[Statement, ...]]:
    resolver = Resolver(
        template,
        {"OutsidePolicyArn": "arn:aws:iam::aws:policy/Admin"},
        {"Secret": SECRET_ARN, "Locks": "Locks"},
        {("Locks", "Arn"): TABLE_ARN},
    )
    return function_policies(template, resolver)


def _with(function_policies_: list[Any], **resources: Any) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["WithShared"]["Properties"]["Policies"] = function_policies_
    template["Resources"].update(resources)
    return template


def test_a_referenced_managed_policy_adds_its_statements_to_the_functions_own() -> None:
    policies = _policies(TEMPLATE)

    assert policies["WithShared"] == (
        Statement("Allow", ("secretsmanager:GetSecretValue",), (SECRET_ARN,)),
        Statement("Allow", ("dynamodb:PutItem", "dynamodb:DeleteItem"), (TABLE_ARN,)),
        Statement("Allow", ("dynamodb:GetItem",), ("arn:own",)),
    )
    assert allowed(policies["WithShared"], "dynamodb:PutItem", [TABLE_ARN])
    # A function that does not reference it gets none of it.
    assert policies["InlineOnly"] == (Statement("Allow", ("sqs:SendMessage",), ("arn:q",)),)
    assert not allowed(policies["InlineOnly"], "dynamodb:PutItem", [TABLE_ARN])


def test_a_managed_policy_can_be_named_by_its_policy_arn_attribute() -> None:
    by_arn = _policies(_with([{"Fn::GetAtt": ["Shared", "PolicyArn"]}]))
    assert by_arn["WithShared"] == _policies(_with([{"Ref": "Shared"}]))["WithShared"]


@pytest.mark.parametrize(
    ("policies", "resources", "message"),
    [
        # What these grant is not in the template.
        ([{"Ref": "OutsidePolicyArn"}], {}, "'Ref': 'OutsidePolicyArn'"),
        (["AWSLambdaExecute"], {}, "AWSLambdaExecute"),
        ([{"DynamoDBCrudPolicy": {"TableName": "t"}}], {}, "DynamoDBCrudPolicy"),
        ([{"Ref": "Locks"}], {}, "'Ref': 'Locks'"),  # a resource, but not a managed policy
        ([{"Fn::GetAtt": ["Shared", "Arn"]}], {}, "Fn::GetAtt"),
        # A managed policy whose statements cannot be evaluated.
        (
            [{"Ref": "Odd"}],
            {
                "Odd": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "PolicyDocument": {
                            "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
                        }
                    },
                }
            },
            "managed policy Odd: statement keys ['NotAction']",
        ),
        (
            [{"Ref": "Conditional"}],
            {
                "Conditional": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Condition": "Never",
                    "Properties": {"PolicyDocument": {"Statement": []}},
                }
            },
            "not created",
        ),
        # Attached to the function's role from outside its Policies: it would grant without being checked.
        (
            [{"Ref": "Shared"}],
            {
                "Sideways": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "Roles": [{"Ref": "WithSharedRole"}],
                        "PolicyDocument": {
                            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:b"}]
                        },
                    },
                }
            },
            "Sideways attaches itself to WithShared's role",
        ),
        (
            [{"Ref": "Shared"}],
            {
                "InlineSideways": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "PolicyName": "x",
                        "Roles": [{"Ref": "WithSharedRole"}],
                        "PolicyDocument": {"Statement": []},
                    },
                }
            },
            "InlineSideways attaches itself to WithShared's role",
        ),
    ],
)
def test_policies_whose_grant_cannot_be_checked_are_refused(
    policies: list[Any], resources: dict[str, Any], message: str
) -> None:
    template = _with(policies, **resources)
    template["Conditions"] = {"Never": {"Fn::Equals": ["a", "b"]}}
    with pytest.raises(TemplateError) as raised:
        _policies(template)
    assert message in str(raised.value)
