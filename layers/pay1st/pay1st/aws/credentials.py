"""Gateway credentials from one Secrets Manager secret, through Powertools parameters (cached)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities import parameters

from pay1st.client import Credentials
from pay1st.errors import ConfigurationError
from pay1st.webhook_credentials import (
    WebhookCredentials,
    previous_callback_key_material,
    webhook_credentials_from,
)

__all__ = [
    "SECRET_KEYS",
    "load_callback_key_material",
    "load_credentials",
    "load_previous_callback_key_material",
    "load_webhook_credentials",
]

CALLBACK_KEY = "callbackKey"

# secret JSON key -> Credentials field
SECRET_KEYS: Mapping[str, str] = {"apiKey": "api_key", "apiSecret": "api_secret", "signingKey": "signing_key"}


def _secret_document(secret_name: str, max_age: int) -> Mapping[str, Any]:
    # One cache entry (name + transform) serves both loaders: no second Secrets Manager call.
    try:
        value: Any = parameters.get_secret(secret_name, transform="json", max_age=max_age)
    except parameters.exceptions.TransformParameterError:
        raise ConfigurationError(f"credentials secret {secret_name!r} is not a JSON object") from None
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(f"could not read credentials secret {secret_name!r}") from exc
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"credentials secret {secret_name!r} is not a JSON object")
    return value


def load_credentials(secret_name: str, *, max_age: int = 300) -> Credentials:
    """Read ``{"apiKey", "apiSecret", "signingKey"}`` from the secret (cached ``max_age`` seconds per container).

    Raises :class:`ConfigurationError` naming a missing or empty key, never showing any value.
    """
    value = _secret_document(secret_name, max_age)
    fields: dict[str, str] = {}
    for key, attr in SECRET_KEYS.items():
        item = value.get(key)
        if not isinstance(item, str) or not item:
            raise ConfigurationError(f"credentials secret {secret_name!r} has no non-empty string {key!r}")
        fields[attr] = item
    return Credentials(**fields)


def load_webhook_credentials(secret_name: str, *, max_age: int = 300) -> WebhookCredentials:
    """The keys incoming webhooks may verify under: current Signing Key and optional ``webhookUsername``/
    ``webhookPassword``, plus ``previous`` ones until their ``acceptUntil`` (see :mod:`pay1st.webhook_credentials`).

    Same secret and cache as :func:`load_credentials`. Raises :class:`ConfigurationError` naming a key only.
    """
    return webhook_credentials_from(
        _secret_document(secret_name, max_age), where=f"credentials secret {secret_name!r}"
    )


def load_previous_callback_key_material(
    secret_name: str, *, max_age: int = 300
) -> tuple[tuple[str | None, str | None, datetime], ...]:
    """``(callbackKey, signingKey, acceptUntil)`` of the secret's ``previous`` entries: what callback tokens
    made before a rotation were made from (:func:`pay1st.webhook_credentials.previous_callback_key_material`)."""
    return previous_callback_key_material(
        _secret_document(secret_name, max_age), where=f"credentials secret {secret_name!r}"
    )


def load_callback_key_material(secret_name: str, *, max_age: int = 300) -> tuple[str | None, str]:
    """The secret's optional ``callbackKey`` and its ``signingKey`` (what the callback key is made from).

    Same secret and cache as :func:`load_credentials`. Raises :class:`ConfigurationError` naming a key only.
    """
    value = _secret_document(secret_name, max_age)
    dedicated = value.get(CALLBACK_KEY)
    if dedicated is not None and (not isinstance(dedicated, str) or not dedicated):
        raise ConfigurationError(
            f"credentials secret {secret_name!r}: {CALLBACK_KEY!r} must be a non-empty string"
        )
    return dedicated, load_credentials(secret_name, max_age=max_age).signing_key
