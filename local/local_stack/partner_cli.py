"""``credentials`` and ``token``: what a partner backend needs to call the local stack's partner routes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import urllib3

from local_stack.aws import REGION
from local_stack.issuer import TOKEN_PATH
from local_stack.partner_auth import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY
from local_stack.sigv4 import SERVICE

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

DEFAULT_API_URL = "http://127.0.0.1:3000"


def credentials_text() -> str:
    return (
        f"export AWS_ACCESS_KEY_ID={LOCAL_ACCESS_KEY_ID}\n"
        f"export AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_ACCESS_KEY}\n"
        f"export AWS_REGION={REGION}\n"
    )


def describe_partner_auth(stack: LocalStack) -> str:
    auth = stack.partner_auth
    if auth == "AWS_IAM":
        return (
            f"  Partner routes need SigV4 ({SERVICE}, {REGION}) with the local credentials "
            f"{LOCAL_ACCESS_KEY_ID} / {LOCAL_SECRET_ACCESS_KEY} (`python -m local_stack credentials` prints them)"
        )
    if auth == "NONE":
        return "  --no-auth: partner routes accept unsigned requests (a deployed stack never does)"
    return (
        f"  Partner routes need a bearer JWT from the local issuer {stack.issuer.url}: "
        f"`python -m local_stack token --api-url {stack.api_url}`"
    )


def cmd_credentials(args: argparse.Namespace) -> int:
    sys.stdout.write(credentials_text())
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    fields = {"sub": args.subject, "expires_in": str(args.expires_in)}
    if args.scope:
        fields["scope"] = args.scope
    try:
        response = urllib3.request(
            "POST",
            f"{args.api_url.rstrip('/')}{TOKEN_PATH}",
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            retries=False,
            timeout=urllib3.Timeout(total=10),
        )
    except urllib3.exceptions.HTTPError as exc:
        sys.stderr.write(f"no local stack answers at {args.api_url}: {exc}\n")
        return 2
    if response.status != 200:
        sys.stderr.write(f"the local issuer refused: {response.status} {response.data[:300]!r}\n")
        return 1
    sys.stdout.write(json.loads(response.data)["access_token"] + "\n")
    return 0


def add_partner_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    credentials = commands.add_parser(
        "credentials", help="print the local partner's AWS credentials (SigV4 for the partner routes)"
    )
    credentials.set_defaults(handler=cmd_credentials)

    token = commands.add_parser(
        "token", help="print a bearer JWT from a running local stack's issuer (PartnerAuth=JWT)"
    )
    token.add_argument("--api-url", default=DEFAULT_API_URL, help="the running local API")
    token.add_argument("--subject", default="local-partner", help="the token's sub claim")
    token.add_argument("--scope", help="space-separated scopes")
    token.add_argument("--expires-in", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(handler=cmd_token)
