"""The runner serves exactly the routes template.yaml declares: each reaches its function, nothing else does."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3
from local_stack.stack import LocalStack
from local_stack.template import load_template

from tests.local.local_kit import partner_request, signed_result_url

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def declared_routes() -> dict[tuple[str, str], str]:
    """(method, path) → function, read straight from template.yaml's HttpApi events (not via the runner)."""
    routes = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes[(event["Properties"]["Method"].upper(), event["Properties"]["Path"])] = logical_id
    return routes


def concrete(path: str) -> str:
    return path.replace("{partnerReference}", "route-check-1").replace("{outcome}", "success")


def test_template_declares_routes() -> None:
    assert len(declared_routes()) >= 6


def test_runner_route_table_is_the_template_s(local_stack: LocalStack) -> None:
    served = {(route.method, route.path): route.function_id for route in local_stack.routes}
    assert served == declared_routes()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_and_path_reaches_exactly_the_declared_function(
    local_stack: LocalStack, method: str
) -> None:
    http = urllib3.PoolManager(retries=False)
    declared = declared_routes()
    for path in sorted({path for _, path in declared}):
        before = {fid: pool.invocations for fid, pool in local_stack.pools.items()}
        response = partner_request(
            http, method, local_stack.api_url + concrete(path), body=b"{}" if method != "GET" else None
        )
        invoked = [fid for fid, pool in local_stack.pools.items() if pool.invocations != before[fid]]
        expected = declared.get((method, path))
        if expected is None:
            assert invoked == [], (method, path)
            assert response.status == 404 and json.loads(response.data) == {"message": "Not Found"}
        else:
            assert invoked == [expected], (method, path)
            assert response.status < 500, (method, path, response.data)


@pytest.mark.parametrize(
    "path", ["/", "/payments/", "/payments/a/b", "/webhooks", "/callbacks", "/_local/nope"]
)
def test_undeclared_paths_are_not_found(local_stack: LocalStack, path: str) -> None:
    response: Any = urllib3.request("GET", local_stack.api_url + path, retries=False)
    assert response.status == 404
    assert json.loads(response.data) == {"message": "Not Found"}


def test_only_the_result_page_is_the_runner_s_own(local_stack: LocalStack) -> None:
    url = signed_result_url(local_stack, error="unknown_payment", outcome="success")
    response = urllib3.request("GET", url)
    assert response.status == 200 and b"unknown_payment" in response.data


def test_the_result_page_verifies_its_parameters_and_refuses_an_edited_url(local_stack: LocalStack) -> None:
    # Given a redirect's parameters as the callback signs them, for a payment that failed
    url = signed_result_url(local_stack, partnerReference="nobody-here", status="FAILED", outcome="failure")
    shown = urllib3.request("GET", url)
    assert shown.status == 200 and b'<td id="status">FAILED</td>' in shown.data
    # When the customer edits the URL to claim it was paid (or drops the signature)
    for edited in (url.replace("status=FAILED", "status=SUCCESSFUL"), url.split("&sig=")[0]):
        refused = urllib3.request("GET", edited)
        # Then the page refuses it and shows no status at all
        assert refused.status == 200
        assert b"invalid_signature" in refused.data and b"SUCCESSFUL" not in refused.data
        assert b'<td id="status">(not shown)</td>' in refused.data
