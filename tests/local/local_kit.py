"""Helpers for the local stack's tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
import urllib3
from local_stack.partner_auth import sigv4_headers
from local_stack.stack import LocalStack, StackOptions
from local_stack.template import PROJECT_ROOT

EVENTS_DIR = PROJECT_ROOT / "events"


@contextmanager
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, **options: Any
) -> Iterator[LocalStack]:
    """A local stack for one test module: free ports, no background event sources (tests drive queues and
    schedules themselves), the functions' logs in a temporary ``name``/functions.log; ``options`` are further
    :class:`StackOptions` fields (``env_vars``, ``parameter_overrides``...). Containers start on first use, as
    Lambda's do: prewarming all nine functions for each module started 35 containers no test called."""
    log_path = tmp_path_factory.mktemp(name) / "functions.log"
    with open(log_path, "w", encoding="utf-8") as function_log:
        settings: dict[str, Any] = {"api_port": 0, "moto_port": 0, "sandbox_port": 0, "event_sources": False}
        with LocalStack(StackOptions(function_log=function_log, **{**settings, **options})) as stack:
            yield stack


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event


def partner_request(
    http: urllib3.PoolManager,
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> urllib3.BaseHTTPResponse:
    """A call of the partner's backend: ``body`` (JSON unless bytes) signed with the local SigV4 credentials."""
    data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    sent = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        sent["Content-Type"] = "application/json"
    signed = sigv4_headers(method, url, data, sent)
    return http.request(method, url, body=data or None, headers=signed, **kwargs)


def signed_result_url(local_stack: Any, **params: str) -> str:
    """The local result page with ``params`` signed as the callback redirect signs them (valid 10 minutes)."""
    import time
    from urllib.parse import urlencode

    from pay1st_partner_client.result_page import sign_result_params

    signed = sign_result_params(local_stack.result_key(), params, expires=int(time.time()) + 600)
    return f"{local_stack.result_page_url}?{urlencode(signed)}"
