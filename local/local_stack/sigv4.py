"""Verify a request's SigV4 signature as API Gateway's IAM authorizer does, with botocore's own signer.

The signature is recomputed from what arrived: the raw path and query, exactly the headers the client
listed in ``SignedHeaders``, the body's SHA-256 and the client's ``X-Amz-Date``; then compared in constant
time. The messages are API Gateway's, so a client sees locally what it would see on its first real call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.datastructures import Headers

SERVICE = "execute-api"
TOLERANCE = timedelta(minutes=5)  # API Gateway refuses a signature older (or newer) than this
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

FORBIDDEN = "Forbidden"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
UNKNOWN_ACCESS_KEY = "The security token included in the request is invalid."

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)


class SignatureRejected(Exception):
    """The request is not signed, or not signed right; ``message`` is what API Gateway answers (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SignedRequest:
    """What arrived, as the signer saw it: ``url`` is scheme, Host header, raw path and raw query."""

    method: str
    url: str
    headers: Headers
    body: bytes


def verify(
    request: SignedRequest,
    secrets: Mapping[str, str],
    region: str,
    now: datetime | None = None,
    session_tokens: Mapping[str, str] | None = None,
) -> str:
    """The caller's access key id when the signature is valid for one of ``secrets`` (key id → secret).

    ``session_tokens`` (key id → the token issued with it) are the only ``X-Amz-Security-Token`` values
    accepted: AWS refuses a token it did not issue, or any token with a long-term key (none by default: the
    local credentials are a long-term key), with the same message as an unknown key.
    """
    header = request.headers.get("Authorization")
    if not header:
        raise SignatureRejected(FORBIDDEN)  # no credentials at all: API Gateway's plain 403
    found = _AUTHORIZATION.fullmatch(header.strip())
    if found is None:
        raise SignatureRejected(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters "
            "(AWS4-HMAC-SHA256)."
        )
    parts = found["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureRejected(f"Credential should be scoped correctly: {found['credential']!r}.")
    access_key, scope_date, scope_region, scope_service, _ = parts
    secret = secrets.get(access_key)
    if secret is None:
        raise SignatureRejected(UNKNOWN_ACCESS_KEY)
    token = request.headers.get("X-Amz-Security-Token")
    issued = (session_tokens or {}).get(access_key)
    if token is not None and (issued is None or not hmac.compare_digest(token, issued)):
        raise SignatureRejected(UNKNOWN_ACCESS_KEY)
    if scope_region != region:
        raise SignatureRejected(f"Credential should be scoped to a valid region, not '{scope_region}'.")
    if scope_service != SERVICE:
        raise SignatureRejected(f"Credential should be scoped to correct service: '{SERVICE}'.")
    stamp = _checked_date(request.headers.get("X-Amz-Date", ""), scope_date, now or datetime.now(UTC))
    signed_names = found["signed"].split(";")
    if "host" not in signed_names:
        raise SignatureRejected("'Host' must be a signed header.")
    _check_payload_hash(request)

    resigned = AWSRequest(method=request.method, url=request.url, data=request.body)
    for name in signed_names:
        values = request.headers.getlist(name)
        if not values:
            raise SignatureRejected(MISMATCH)
        for value in values:
            resigned.headers[name] = value  # HTTPHeaders appends: a repeated header keeps every value
    resigned.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(access_key, secret), SERVICE, region)
    if signer.signed_headers(signer.headers_to_sign(resigned)) != found["signed"]:
        raise SignatureRejected(MISMATCH)  # e.g. a header botocore never signs (User-Agent) was listed
    canonical = signer.canonical_request(resigned)
    expected = signer.signature(signer.string_to_sign(resigned, canonical), resigned)
    if not hmac.compare_digest(expected, found["signature"]):
        raise SignatureRejected(MISMATCH)
    return access_key


def _checked_date(stamp: str, scope_date: str, now: datetime) -> str:
    try:
        signed_at = datetime.strptime(stamp, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected(
            "Authorization header requires existence of a valid 'X-Amz-Date' header."
        ) from None
    if stamp[:8] != scope_date:
        raise SignatureRejected(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."
        )
    if abs(now - signed_at) > TOLERANCE:
        raise SignatureRejected(
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - TOLERANCE).strftime(AMZ_DATE_FORMAT)} ({now.strftime(AMZ_DATE_FORMAT)} - 5 min.)"
            if signed_at < now
            else f"Signature not yet current: {stamp} is still later than "
            f"{(now + TOLERANCE).strftime(AMZ_DATE_FORMAT)} ({now.strftime(AMZ_DATE_FORMAT)} + 5 min.)"
        )
    return stamp


def _check_payload_hash(request: SignedRequest) -> None:
    """A declared body hash must be the body's: execute-api takes no unsigned payloads."""
    declared = request.headers.get("X-Amz-Content-Sha256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise SignatureRejected(MISMATCH)
