"""openapi.yaml is the HTTP API's contract: exactly the template's routes, and the running local stack
answers every operation as the document says (Schemathesis, bounded, partner routes signed with SigV4)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from local_stack.partner_auth import sigv4_headers
from local_stack.stack import LocalStack
from local_stack.template import PROJECT_ROOT, load_template
from openapi_spec_validator import validate
from pay1st_partner_client import BY_CODE
from schemathesis import checks

OPENAPI = PROJECT_ROOT / "openapi.yaml"
PUBLIC_PATHS = ("/webhooks/pay1st", "/callbacks/{outcome}")
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


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
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
    assert public == {("POST", "/webhooks/pay1st"), ("GET", "/callbacks/{outcome}")}


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
