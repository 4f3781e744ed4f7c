"""The partner's backend, as the local stack plays it: the bundle's own client, authenticated as required."""

from __future__ import annotations

from collections.abc import Mapping

from pay1st_partner_client import BearerAuth, PartnerClient, SigV4Auth

from local_stack.aws import REGION
from local_stack.partner_auth import local_credentials
from local_stack.stack import LocalStack


class NoAuth:
    """For a stack started with ``--no-auth``: the request goes as it is."""

    def headers(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        return dict(headers)


def partner_client(stack: LocalStack, *, max_attempts: int = 3) -> PartnerClient:
    """A client of ``stack``'s partner routes, signing with the local credentials or the local issuer's JWT."""
    auth = stack.partner_auth
    if auth == "AWS_IAM":
        return PartnerClient(
            stack.api_url, SigV4Auth(REGION, credentials=local_credentials()), max_attempts=max_attempts
        )
    if auth == "NONE":
        return PartnerClient(stack.api_url, NoAuth(), max_attempts=max_attempts)
    return PartnerClient(stack.api_url, BearerAuth(stack.partner_token), max_attempts=max_attempts)
