"""The runner serves exactly the routes template.yaml declares: each reaches its function, nothing else does."""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3
from local_stack.stack import LocalStack
from local_stack.template import load_template

from tests.local.local_kit import partner_request

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
    response = urllib3.request(
        "GET", f"{local_stack.api_url}/_local/result?partnerReference=x&error=unknown_payment"
    )
    assert response.status == 200 and b"unknown_payment" in response.data
