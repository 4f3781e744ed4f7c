"""The resolver turns the template's intrinsics into local values, and refuses what it does not know."""

from __future__ import annotations

import pytest
from local_stack.resolver import Resolver, TemplateError, UnsupportedIntrinsic
from local_stack.spec import merge_globals, rate_seconds

TEMPLATE = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "Missing": {"Type": "String"}},
    "Conditions": {
        "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
    },
}


def resolver() -> Resolver:
    return Resolver(TEMPLATE, {"Stage": "dev"}, {"Queue": "http://q"}, {("Queue", "Arn"): "arn:q"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Queue"}, "http://q"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:q"),
        ({"Fn::Sub": "${Stage}-${Queue.Arn}-${AWS::Region}-${!Literal}"}, "dev-arn:q-eu-west-1-${Literal}"),
        ({"Fn::Sub": ["${A}/${Stage}", {"A": {"Ref": "Queue"}}]}, "http://q/dev"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}, "a-dev"),
        ({"Fn::Select": [1, ["a", "b"]]}, "b"),
        ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
        ({"Fn::If": ["NotDev", "yes", "no"]}, "no"),
        ({"k": {"Ref": "AWS::NoValue"}, "j": 1}, {"j": 1}),
        ([{"Ref": "AWS::NoValue"}, 2], [2]),
    ],
)
def test_resolves(value: object, expected: object) -> None:
    assert resolver().resolve(value) == expected


def test_unknown_intrinsic_fails_loudly() -> None:
    with pytest.raises(UnsupportedIntrinsic, match="Fn::ImportValue"):
        resolver().resolve({"Fn::ImportValue": "x"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Missing"}, "parameter Missing has no value"),
        ({"Ref": "Nope"}, "Ref to 'Nope'"),
        ({"Fn::GetAtt": ["Queue", "Url"]}, "Queue.Url is not provided locally"),
        ({"Fn::If": ["Unknown", 1, 2]}, "unknown condition"),
    ],
)
def test_unresolvable_references_are_clear_errors(value: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        resolver().resolve(value)


def test_globals_merge_like_sam() -> None:
    merged = merge_globals(
        {"Timeout": 3, "Layers": ["a"], "Environment": {"Variables": {"A": "1", "B": "1"}}},
        {"Timeout": 9, "Layers": ["b"], "Environment": {"Variables": {"B": "2"}}},
    )
    assert merged == {"Timeout": 9, "Layers": ["a", "b"], "Environment": {"Variables": {"A": "1", "B": "2"}}}


def test_rate_expressions() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 12 * * ? *)") is None
