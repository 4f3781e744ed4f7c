"""The runner's own routes under ``/_local/`` (never the template's): the local JWT issuer and stack facts.

They are unauthenticated, like the sandbox's control API and moto: the stack listens on loopback unless
told otherwise, and says what it exposes when it is (see ``exposure_warning``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from local_stack.issuer import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH, LocalIssuer

INFO_PATH = "/_local/stack"
EVENTS_PATH = "/_local/events"  # ?partnerReference=: the payment events the partner's rule received
SCHEDULES_PREFIX = "/_local/schedules/"  # POST <FunctionLogicalId>: run its schedule now

Handler = Callable[[Request], Response]


def json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, headers={"Content-Type": "application/json"})


class OwnRoutes:
    """``(method, path) → handler``; ``__call__`` answers a request for one of them, else None."""

    def __init__(self, issuer: LocalIssuer, audience: str, info: Callable[[], Mapping[str, Any]]) -> None:
        self._issuer = issuer
        self.audience = audience  # the JWT authorizer's, set once the template is resolved
        self._info = info
        self.handlers: dict[tuple[str, str], Handler] = {
            ("GET", JWKS_PATH): lambda _: json_response(200, issuer.jwks()),
            ("GET", DISCOVERY_PATH): lambda _: json_response(200, issuer.discovery()),
            ("POST", TOKEN_PATH): self._token,
            ("GET", INFO_PATH): lambda _: json_response(200, dict(self._info())),
        }

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.handlers[(method, path)] = handler

    def __call__(self, request: Request) -> Response | None:
        handler = self.handlers.get((request.method, request.path))
        if handler is None and request.method == "POST" and request.path.startswith(SCHEDULES_PREFIX):
            handler = self.handlers.get(("POST", SCHEDULES_PREFIX))
        return None if handler is None else handler(request)

    def _token(self, request: Request) -> Response:
        """Client-credentials style: form or JSON ``sub``, ``scope``, ``expires_in``; answers a bearer token."""
        fields: Mapping[str, Any] = request.form
        if request.is_json:
            body = request.get_json(silent=True)
            fields = body if isinstance(body, dict) else {}
        try:
            lifetime = int(fields.get("expires_in", 3600))
        except (TypeError, ValueError):
            return json_response(400, {"error": "invalid_request", "error_description": "expires_in"})
        if not 0 < lifetime <= 86400:
            return json_response(400, {"error": "invalid_request", "error_description": "expires_in"})
        token = self._issuer.mint(
            self.audience,
            subject=str(fields.get("sub") or "local-partner"),
            scopes=str(fields.get("scope") or "").split(),
            lifetime=lifetime,
        )
        return json_response(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def exposure_warning(host: str, api_url: str, sandbox_url: str | None, moto_url: str) -> str | None:
    """What another machine can reach when the stack binds ``host``; None on loopback."""
    if is_loopback(host):
        return None
    parts = [
        f"the local API {api_url}: public webhook and callback routes, and the partner routes, which accept "
        "the documented local credentials and any token its issuer mints",
        f"the runner's own routes {api_url}/_local/ (a JWT issuer that signs tokens for anyone, the result page)",
        f"moto {moto_url} (every local table, queue and the credentials secret, no authentication)",
    ]
    if sandbox_url:
        parts.append(f"the Pay1st sandbox {sandbox_url} with its control API (no authentication)")
    return f"WARNING: listening on {host}, not loopback. Anyone who can reach this machine gets " + "; ".join(
        parts
    )
