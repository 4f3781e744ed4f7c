"""openapi.yaml is the HTTP API's contract: exactly the template's routes, and the running local stack
answers every operation as the document says (Schemathesis, bounded, partner routes signed with SigV4)."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator, ValidationError
from local_stack.partner import partner_client
from local_stack.partner_auth import sigv4_headers
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT, load_template
from openapi_spec_validator import validate
from pay1st_partner_client import BY_CODE, Product
from schemathesis import checks

OPENAPI = PROJECT_ROOT / "openapi.yaml"
PUBLIC_PATHS = ("/webhooks/pay1st", "/webhooks/pay1st/refunds", "/callbacks/{outcome}")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# What must hold for every generated request. Not positive_data_acceptance: a valid order may meet a
# payment_conflict (409) or the gateway's refusal (422), both documented answers.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

schema = schemathesis.openapi.from_path(OPENAPI)
schema.config.generation.update(max_examples=6, with_security_parameters=False, modes=["positive"])
schema.config.phases.update(phases=["examples", "fuzzing"])


@functools.cache
def document() -> dict[str, Any]:
    """The parsed contract, read once (pure-Python YAML took 0.6 s a parse; callers only read it)."""
    loaded: dict[str, Any] = yaml.load(
        OPENAPI.read_text(encoding="utf-8"),
        Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader),  # noqa: S506 - the safe loader (in C when built)
    )
    return loaded


def template_routes() -> set[tuple[str, str]]:
    routes = set()
    for resource in load_template()["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] == "HttpApi":
                    routes.add((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return routes


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = document()
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_the_document_has_exactly_the_template_s_routes() -> None:
    documented = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }
    assert documented == template_routes()


def test_partner_routes_are_secured_and_only_the_public_ones_are_not() -> None:
    spec = document()
    assert spec["security"] == [{"sigv4": []}, {"jwt": []}]
    public = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == []
    }
    assert public == {
        ("POST", "/webhooks/pay1st"),
        ("POST", "/webhooks/pay1st/refunds"),
        ("GET", "/callbacks/{outcome}"),
    }


def test_the_error_codes_are_the_client_s() -> None:
    assert set(document()["components"]["schemas"]["Error"]["properties"]["code"]["enum"]) == set(BY_CODE)


class SignedWithLocalCredentials(requests.auth.AuthBase):
    """SigV4 over the request exactly as requests will send it (the public routes ignore it)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        data = body.encode("utf-8") if isinstance(body, str) else body
        content_type = request.headers.get("Content-Type")
        signed = sigv4_headers(
            str(request.method),
            str(request.url),
            data,
            {"Content-Type": content_type} if content_type else {},
        )
        request.headers.update(signed)
        return request


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_documented(case: Any, local_stack: LocalStack) -> None:
    response = case.call_and_validate(
        base_url=local_stack.api_url, auth=SignedWithLocalCredentials(), checks=CHECKS
    )
    if case.operation.path not in PUBLIC_PATHS:
        assert response.status_code not in (401, 403), response.text  # the signature was accepted


def conforms(instance: Any, schema_name: str) -> None:
    """``instance`` is valid under the document's ``#/components/schemas/<schema_name>`` (JSON Schema 2020-12)."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": document()["components"]}
    Draft202012Validator(root).validate(instance)


def test_every_documented_example_conforms_to_its_schema() -> None:
    spec = document()
    checked = 0
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for answer in operation["responses"].values():
                if "$ref" in answer:
                    answer = spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
                media = answer.get("content", {}).get("application/json", {})
                schema_ref = media.get("schema", {}).get("$ref")
                examples = [media["example"]] if "example" in media else []
                examples += [named["value"] for named in media.get("examples", {}).values()]
                for example in examples if schema_ref else []:
                    conforms(example, schema_ref.rsplit("/", 1)[1])
                    checked += 1
    assert checked >= 30


@pytest.mark.slow
def test_a_real_refund_and_the_refunded_payment_conform(local_stack: LocalStack) -> None:
    # Given a paid payment (through the client, signed; paid at the sandbox)
    assert local_stack.sandbox is not None
    client, control = partner_client(local_stack), local_stack.sandbox.control
    reference = f"contract-{uuid.uuid4().hex[:10]}"
    created = client.create_payment(
        reference,
        amount="250.50",
        currency_code="ZAR",
        country_code="ZA",
        products=[Product("G", "G-1", "250.50", 1)],
    )
    control.settle(str(created.reference), "pay")
    control.flush_webhooks(timeout=15)
    url = f"{local_stack.api_url}/payments/{reference}"
    auth = SignedWithLocalCredentials()
    # When a refund is requested, and requested again beyond what is refundable
    answer = requests.post(
        f"{url}/refunds",
        json={"refundReference": f"{reference}-r1", "amount": "10.00"},
        auth=auth,
        timeout=30,
    )
    too_much = requests.post(
        f"{url}/refunds", json={"refundReference": f"{reference}-r2", "amount": "999"}, auth=auth, timeout=30
    )
    # Then the answers are the documented ones, and so is the payment showing its refund
    assert answer.status_code == 201, answer.text
    conforms(answer.json(), "Refund")
    assert (too_much.status_code, too_much.json()["code"]) == (400, "amount_exceeds_refundable")
    conforms(too_much.json(), "Error")
    payment = requests.get(url, auth=auth, timeout=30)
    conforms(payment.json(), "Payment")
    assert payment.json()["refunds"][0]["refundReference"] == f"{reference}-r1"
    assert payment.json()["refundableAmount"] == "240.50"
    # And a malformed view would not conform (the check can fail)
    with pytest.raises(ValidationError):
        conforms({**payment.json(), "refunds": [{"refundReference": 1}]}, "Payment")
