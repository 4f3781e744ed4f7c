"""How each attempt is authenticated: SigV4 with AWS credentials (``AWS_IAM``) or a bearer JWT (``JWT``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Protocol

from botocore.auth import SigV4Auth as _BotocoreSigV4
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.session import Session

SERVICE = "execute-api"


class Auth(Protocol):
    def headers(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` plus whatever authenticates this exact request."""


class SigV4Auth:
    """Signs with botocore for ``execute-api``; credentials as botocore finds them unless given.

    Credentials are read again for every request, so refreshed role credentials are used as they rotate.
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        credentials: Credentials | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
    ) -> None:
        session = Session()
        if credentials is None and access_key and secret_key:
            credentials = Credentials(access_key, secret_key, session_token)
        found = credentials or session.get_credentials()
        if found is None:
            raise ValueError("no AWS credentials found: configure them, or pass access_key/secret_key")
        self._credentials: Credentials = found
        self.region: str = resolve_region(region, session)

    def headers(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        frozen: ReadOnlyCredentials = self._credentials.get_frozen_credentials()
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        credentials = Credentials(str(frozen.access_key), str(frozen.secret_key), frozen.token)
        _BotocoreSigV4(credentials, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


def resolve_region(region: str | None, session: Session) -> str:
    """``region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` or the profile's region, as the AWS SDKs do.

    botocore reads only ``AWS_DEFAULT_REGION`` and the profile; the other SDKs (and Lambda, and
    ``python -m local_stack credentials``) set ``AWS_REGION``, which they put first.
    """
    found = region or os.environ.get("AWS_REGION") or session.get_config_variable("region")
    if not found:
        raise ValueError(
            "no AWS region: pass region=, or set AWS_REGION (or AWS_DEFAULT_REGION, or region in your AWS profile)"
        )
    return str(found)


class BearerAuth:
    """``Authorization: Bearer <token>``; ``token`` may be a callable returning a fresh one per request."""

    def __init__(self, token: str | Callable[[], str]) -> None:
        self._token = token

    def headers(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        token = self._token() if callable(self._token) else self._token
        return {**headers, "Authorization": f"Bearer {token}"}
