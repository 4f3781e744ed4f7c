"""A local JWT issuer, and the JWT authorizer check HTTP API runs against it (``PartnerAuth=JWT``).

The issuer is the local API's ``/_local/issuer``: it publishes its public key as a JWKS (and an OpenID
discovery document pointing to it) and mints RS256 tokens at ``POST /_local/issuer/token``. The key pair
is made on first use and lives as long as the stack, so a token from one run fails on the next.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

ISSUER_PATH = "/_local/issuer"
JWKS_PATH = f"{ISSUER_PATH}/.well-known/jwks.json"
DISCOVERY_PATH = f"{ISSUER_PATH}/.well-known/openid-configuration"
TOKEN_PATH = f"{ISSUER_PATH}/token"
DEFAULT_SUBJECT = "local-partner"
DEFAULT_LIFETIME_SECONDS = 3600
ALGORITHM = "RS256"  # what HTTP API's JWT authorizers accept


class TokenRejected(Exception):
    """The bearer token is missing or invalid; ``description`` goes into WWW-Authenticate."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class JwtAuthorizer:
    """An HttpApi JWT authorizer's configuration, as the template resolves it."""

    name: str
    issuer: str
    audiences: tuple[str, ...]
    identity_header: str = "authorization"


class LocalIssuer:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._key: RSAKey | None = None
        self._lock = threading.Lock()

    def _signing_key(self) -> RSAKey:
        with self._lock:
            if self._key is None:
                self._key = RSAKey.generate_key(
                    2048, parameters={"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": ALGORITHM}
                )
            return self._key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._signing_key().as_dict(private=False)]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/.well-known/jwks.json",
            "token_endpoint": f"{self.url}/token",
            "id_token_signing_alg_values_supported": [ALGORITHM],
        }

    def mint(
        self,
        audience: str,
        *,
        subject: str = DEFAULT_SUBJECT,
        scopes: Sequence[str] = (),
        lifetime: int = DEFAULT_LIFETIME_SECONDS,
    ) -> str:
        key = self._signing_key()
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)

    def verify(self, authorization: str | None, authorizer: JwtAuthorizer) -> dict[str, Any]:
        """The token's claims, when it is this issuer's, unexpired, for the authorizer's issuer and audience."""
        if not authorization:
            raise TokenRejected("missing token")
        scheme, _, value = authorization.strip().partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else authorization.strip()
        try:
            decoded = jwt.decode(token, KeySet([self._signing_key()]), algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                leeway=0,
                iss={"essential": True, "value": authorizer.issuer},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise TokenRejected(_describe(exc)) from None
        except ValueError:  # not a JWS at all
            raise TokenRejected("invalid token") from None
        claims = dict(decoded.claims)
        if not _audience_matches(claims, authorizer.audiences):
            raise TokenRejected("invalid audience")
        return claims


def _audience_matches(claims: Mapping[str, Any], audiences: Sequence[str]) -> bool:
    """HTTP API accepts a token whose ``aud`` (or, without one, ``client_id``) is one of the configured."""
    given = claims.get("aud", claims.get("client_id"))
    values = given if isinstance(given, list) else [given]
    return any(value in audiences for value in values)


def _describe(exc: JoseError) -> str:
    text = str(exc)
    if "exp" in text or "expired" in text:
        return "the token has expired"
    if "iss" in text:
        return "invalid issuer"
    return "signature is invalid" if "signature" in text else "invalid token"


def authorizer_context(claims: Mapping[str, Any]) -> dict[str, Any]:
    """``requestContext.authorizer`` for a JWT route: the claims as strings, and the token's scopes."""
    scopes = str(claims.get("scope", "")).split()
    return {
        "jwt": {
            "claims": {
                name: value if isinstance(value, str) else str(value) for name, value in claims.items()
            },
            "scopes": scopes or None,
        }
    }
