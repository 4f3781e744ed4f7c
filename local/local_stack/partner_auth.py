"""The partner routes' authorizer, enforced locally as API Gateway enforces it.

``AWS_IAM``: a SigV4 signature (service ``execute-api``, the stack's region) by the local credentials below,
which the runner hands out (``python -m local_stack credentials``); anything else is 403. A JWT authorizer:
a bearer token from the local issuer (``python -m local_stack token``) for the authorizer's issuer and
audience; anything else is 401. ``--no-auth`` (``StackOptions.enforce_auth=False``) turns both off and says
so: every partner call then counts as authorized, as the runner did before it enforced anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.wrappers import Request

from local_stack import sigv4
from local_stack.aws import ACCOUNT_ID, REGION
from local_stack.issuer import JwtAuthorizer, LocalIssuer, TokenRejected, authorizer_context
from local_stack.resolver import TemplateError
from local_stack.spec import Route

# The partner's local IAM user. Public by design: it opens nothing but the local stack (never AWS).
LOCAL_ACCESS_KEY_ID = "AKIALOCALPARTNER0001"
LOCAL_SECRET_ACCESS_KEY = "local-partner-secret-not-an-aws-key"  # noqa: S105 - documented local value
LOCAL_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-partner"

log = logging.getLogger("local_stack")


@dataclass(frozen=True)
class Decision:
    """Allowed (``context`` for ``requestContext.authorizer``, None on public routes) or denied (``status``)."""

    status: int = 200
    message: str = ""
    context: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.status == 200


def local_credentials() -> Credentials:
    return Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY)


def sigv4_headers(
    method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``headers`` plus the SigV4 ones (Authorization, X-Amz-Date) for this exact request, local credentials."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(local_credentials(), sigv4.SERVICE, REGION).add_auth(request)
    return dict(request.headers.items())


class PartnerAuthorizer:
    """Decides each routed request the way the route's authorizer would."""

    def __init__(
        self,
        issuer: LocalIssuer,
        jwt_authorizers: Mapping[tuple[str, str], JwtAuthorizer] | None = None,
        *,
        enforce: bool = True,
    ) -> None:
        self.issuer = issuer
        self.jwt_authorizers = dict(jwt_authorizers or {})
        self.enforce = enforce
        self.mode = "NONE"  # what the partner routes need: AWS_IAM, a JWT authorizer's name, or NONE
        self._noted = False
        self._lock = threading.Lock()

    def configure(
        self, routes: Sequence[Route], jwt_authorizers: Mapping[tuple[str, str], JwtAuthorizer]
    ) -> None:
        """The template's routes and JWT authorizers; refuses an authorizer it cannot check (a Lambda one)."""
        self.jwt_authorizers = dict(jwt_authorizers)
        guarded = [route for route in routes if route.authorizer != "NONE"]
        self.mode = guarded[0].authorizer if guarded and self.enforce else "NONE"
        for route in guarded if self.enforce else []:
            if route.authorizer != "AWS_IAM" and (route.api_id, route.authorizer) not in self.jwt_authorizers:
                raise TemplateError(
                    f"{route.route_key}: authorizer {route.authorizer} is not emulated locally (use --no-auth)"
                )

    @property
    def audience(self) -> str:
        """The audience a local token is minted for: the first JWT authorizer's first."""
        for authorizer in self.jwt_authorizers.values():
            if authorizer.audiences:
                return authorizer.audiences[0]
        return "local"

    def decide(self, route: Route, request: Request) -> Decision:
        if route.authorizer == "NONE":
            return Decision()
        if not self.enforce:
            self._note_unenforced(route)
            return Decision(context=unverified_context(route.authorizer))
        if route.authorizer == "AWS_IAM":
            return self._sigv4(request)
        authorizer = self.jwt_authorizers.get((route.api_id, route.authorizer))
        if authorizer is None:
            log.error("%s: authorizer %s cannot be checked locally", route.route_key, route.authorizer)
            return Decision(500, "Internal Server Error")
        return self._jwt(request, authorizer)

    def _sigv4(self, request: Request) -> Decision:
        raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        signed = sigv4.SignedRequest(
            method=request.method,
            url=f"http://{request.host}{raw_uri}",
            headers=request.headers,
            body=request.get_data(),
        )
        try:
            access_key = sigv4.verify(signed, {LOCAL_ACCESS_KEY_ID: LOCAL_SECRET_ACCESS_KEY}, REGION)
        except sigv4.SignatureRejected as rejected:
            return Decision(403, rejected.message)
        return Decision(context=iam_context(access_key))

    def _jwt(self, request: Request, authorizer: JwtAuthorizer) -> Decision:
        try:
            claims = self.issuer.verify(request.headers.get(authorizer.identity_header), authorizer)
        except TokenRejected as rejected:
            challenge = f'Bearer scope="" error="invalid_token" error_description="{rejected.description}"'
            return Decision(401, "Unauthorized", headers={"www-authenticate": challenge})
        return Decision(context=authorizer_context(claims))

    def _note_unenforced(self, route: Route) -> None:
        with self._lock:
            if self._noted:
                return
            self._noted = True
        log.warning(
            "--no-auth: routes with %s auth accept every request unchecked (API Gateway would not)",
            route.authorizer,
        )


def iam_context(access_key: str) -> dict[str, Any]:
    return {
        "iam": {
            "accessKey": access_key,
            "accountId": ACCOUNT_ID,
            "callerId": "AIDALOCALPARTNER",
            "principalOrgId": None,
            "userArn": LOCAL_USER_ARN,
            "userId": "AIDALOCALPARTNER",
            "cognitoIdentity": None,
        }
    }


def unverified_context(authorizer: str) -> dict[str, Any]:
    """What a route sees with ``--no-auth``: an authorizer context nobody checked."""
    if authorizer == "AWS_IAM":
        return iam_context("ASIALOCALPARTNER")
    return {"jwt": {"claims": {"sub": "local-partner"}, "scopes": None}}
