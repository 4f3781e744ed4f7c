"""Helpers for the local stack's tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import urllib3
from local_stack.partner_auth import sigv4_headers
from local_stack.template import PROJECT_ROOT

EVENTS_DIR = PROJECT_ROOT / "events"


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
