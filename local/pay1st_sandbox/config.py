"""What a partner would configure in the Pay1st Console, plus the sandbox's own knobs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

# Documented local defaults (COMMON.md "Local defaults"); the signing key is the contract's vector key.
DEFAULT_API_KEY = "pk_sandbox_local"
DEFAULT_API_SECRET = "sk_sandbox_local_secret"  # noqa: S105 - a published sandbox default, not a secret
DEFAULT_SIGNING_KEY = "sk_sandbox_7Qm2vXr9Lp4Tn8Wc"
# The Basic Auth credentials of the contract's §10 basic-auth vector (Product Settings in the Console).
DEFAULT_WEBHOOK_USERNAME = "partner-webhooks"
DEFAULT_WEBHOOK_PASSWORD = "s3cr3t-Pa55"  # noqa: S105 - a published sandbox default, not a secret
# How webhooks are signed (§10): "signing-key" (X-SIGNATURE + X-TIMESTAMP) or "basic-auth" (X-SIGNATURE).
WEBHOOK_SCHEMES = ("signing-key", "basic-auth")
HEX_CASES = ("lower", "upper")
# Which reference a refund's transactionReference must name (§15): the payment's C-…-P "reference" (the
# default), or a C-…-T transaction id the sandbox then also shows in its answers and webhooks.
REFUND_REFERENCES = ("payment", "transaction")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090

ENV_API_KEY = "PAY1ST_SANDBOX_API_KEY"
ENV_API_SECRET = "PAY1ST_SANDBOX_API_SECRET"  # noqa: S105 - the name of a variable
ENV_SIGNING_KEY = "PAY1ST_SANDBOX_SIGNING_KEY"
ENV_WEBHOOK_USERNAME = "PAY1ST_SANDBOX_WEBHOOK_USERNAME"
ENV_WEBHOOK_PASSWORD = "PAY1ST_SANDBOX_WEBHOOK_PASSWORD"  # noqa: S105 - the name of a variable

# Callback outcome -> path appended to default_callback_base.
CALLBACK_OUTCOMES = ("success", "failure", "pending", "cancel")


@dataclass(frozen=True)
class SandboxConfig:
    """Immutable settings; faults that change at run time live in `faults.Faults` instead."""

    api_key: str = field(default=DEFAULT_API_KEY, repr=False)
    api_secret: str = field(default=DEFAULT_API_SECRET, repr=False)
    signing_key: str = field(default=DEFAULT_SIGNING_KEY, repr=False)
    webhook_username: str = field(default=DEFAULT_WEBHOOK_USERNAME, repr=False)
    webhook_password: str = field(default=DEFAULT_WEBHOOK_PASSWORD, repr=False)
    # The scheme webhooks are signed with at start (the control API changes it at run time).
    webhook_scheme: str = "signing-key"
    webhook_hex_case: str = "lower"
    partner_id: int = 4242
    partner_code: str = "SANDBOX-PARTNER"
    # §3 decision: an access token signs requests for 5 minutes from its issue or refresh.
    token_lifetime: float = 300.0
    refresh_token_lifetime: float = 3600.0
    # §4: X-TIMESTAMP must be within this many seconds of the token's issue/refresh (both ways).
    signature_window: float = 300.0
    # Console defaults; a payment's own webhookUrl / callback*Url override them.
    default_webhook_url: str | None = None
    default_callback_base: str | None = None
    seed: int = 0
    # Small defaults keep test suites fast; the command line uses gentler ones.
    webhook_max_attempts: int = 4
    webhook_backoff_base: float = 0.05
    webhook_backoff_cap: float = 1.0
    webhook_timeout: float = 5.0
    # A payment paid "offline" settles to SUCCESSFUL after this long (None: only via the control API).
    offline_settle_seconds: float | None = None
    checkout_session_lifetime: float = 1800.0
    # A refund settles by itself this long after it was requested (§15; the outcome is the refund_outcome fault).
    refund_settle_seconds: float = 2.0
    max_body_bytes: int = 256 * 1024
    # §15: "payment" or "transaction" (the fault refund_reference overrides it at run time).
    refund_reference: str = "payment"

    def __post_init__(self) -> None:
        if self.webhook_max_attempts < 1:
            raise ValueError("webhook_max_attempts must be at least 1")
        if self.webhook_scheme not in WEBHOOK_SCHEMES:
            raise ValueError(f"webhook_scheme must be one of {WEBHOOK_SCHEMES}")
        if self.refund_reference not in REFUND_REFERENCES:
            raise ValueError(f"refund_reference must be one of {REFUND_REFERENCES}")
        if self.webhook_hex_case not in HEX_CASES:
            raise ValueError(f"webhook_hex_case must be one of {HEX_CASES}")
        for name in ("token_lifetime", "refresh_token_lifetime", "signature_window", "webhook_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def default_callback_url(self, outcome: str) -> str | None:
        """The Console default for a callback outcome: ``<default_callback_base>/<outcome>``."""
        if not self.default_callback_base:
            return None
        return f"{self.default_callback_base.rstrip('/')}/{outcome}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SandboxConfig:
        """Credentials from PAY1ST_SANDBOX_* variables when set; keyword overrides win over both."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable, name in (
            (ENV_API_KEY, "api_key"),
            (ENV_API_SECRET, "api_secret"),
            (ENV_SIGNING_KEY, "signing_key"),
            (ENV_WEBHOOK_USERNAME, "webhook_username"),
            (ENV_WEBHOOK_PASSWORD, "webhook_password"),
        ):
            if env.get(variable):
                values[name] = env[variable]
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown SandboxConfig fields: {sorted(unknown)}")
        values.update({name: value for name, value in overrides.items() if value is not None})
        return replace(cls(), **values)
