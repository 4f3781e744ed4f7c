"""The keys a webhook may be verified with (contract §10), current and previous, from the credentials secret.

The secret (one JSON object, also holding the API key and secret) may carry, beside ``signingKey``:

- ``webhookUsername`` / ``webhookPassword``: the Basic Auth credentials of Pay1st's Product Settings, used
  only to verify ``basic-auth`` webhooks (optional; both or neither);
- ``previous``: a list of earlier credentials still accepted for *incoming* webhooks until ``acceptUntil``
  (ISO-8601 with a zone), each entry holding a ``signingKey``, a ``webhookUsername``/``webhookPassword``
  pair, or both::

      "previous": [
        {"signingKey": "sk_old", "acceptUntil": "2026-12-31T00:00:00Z"},
        {"webhookUsername": "old-user", "webhookPassword": "old-pass", "acceptUntil": "2026-12-31T00:00:00Z"}
      ]

A ``previous`` entry may also carry the ``callbackKey`` it replaced (alone or beside the others): callback
tokens made with an earlier key - a previous ``callbackKey``, or one derived from a previous ``signingKey`` -
are accepted until its ``acceptUntil`` (:func:`previous_callback_key_material`).

Outbound requests always sign with the current ``signingKey`` (:class:`pay1st.config.Credentials`); nothing
here is ever used to sign. Like ``Credentials``, no repr shows a secret value and errors name keys only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pay1st.errors import ConfigurationError
from pay1st.signing import parse_timestamp

__all__ = [
    "BasicAuthKey",
    "SigningKey",
    "WebhookCredentials",
    "previous_callback_key_material",
    "webhook_credentials_from",
]

USERNAME_KEY = "webhookUsername"
PASSWORD_KEY = "webhookPassword"  # noqa: S105 - the name of a JSON key
SIGNING_KEY = "signingKey"
PREVIOUS_KEY = "previous"
ACCEPT_UNTIL_KEY = "acceptUntil"
CALLBACK_KEY = "callbackKey"
_MAX_PREVIOUS = 10


@dataclass(frozen=True, repr=False)
class SigningKey:
    key: str
    accept_until: datetime | None = None  # None: the current key

    def __repr__(self) -> str:
        return f"SigningKey(key=<hidden>, accept_until={self.accept_until!r})"

    def accepted_at(self, now: datetime) -> bool:
        return self.accept_until is None or now < self.accept_until


@dataclass(frozen=True, repr=False)
class BasicAuthKey:
    username: str
    password: str
    accept_until: datetime | None = None

    def __repr__(self) -> str:
        return f"BasicAuthKey(username=<hidden>, password=<hidden>, accept_until={self.accept_until!r})"

    def accepted_at(self, now: datetime) -> bool:
        return self.accept_until is None or now < self.accept_until


@dataclass(frozen=True, repr=False)
class WebhookCredentials:
    """Every credential a webhook may verify under, current first, each with its acceptance window."""

    signing_keys: tuple[SigningKey, ...] = ()
    basic_auth: tuple[BasicAuthKey, ...] = ()

    def __repr__(self) -> str:
        return (
            f"WebhookCredentials(signing_keys=<{len(self.signing_keys)} hidden>, "
            f"basic_auth=<{len(self.basic_auth)} hidden>)"
        )

    def signing_keys_at(self, now: datetime) -> list[str]:
        return [entry.key for entry in self.signing_keys if entry.accepted_at(now)]

    def basic_auth_at(self, now: datetime) -> list[tuple[str, str]]:
        return [(entry.username, entry.password) for entry in self.basic_auth if entry.accepted_at(now)]

    def secret_values(self) -> tuple[str, ...]:
        """Every secret value (for leak checks in tests and redaction)."""
        values: list[str] = [entry.key for entry in self.signing_keys]
        for entry in self.basic_auth:
            values += [entry.username, entry.password]
        return tuple(values)


def _text(document: Mapping[str, object], key: str, where: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {key!r} must be a non-empty string")
    return value


def _entry(
    document: Mapping[str, object], where: str, accept_until: datetime | None
) -> tuple[SigningKey | None, BasicAuthKey | None]:
    key = _text(document, SIGNING_KEY, where)
    username = _text(document, USERNAME_KEY, where)
    password = _text(document, PASSWORD_KEY, where)
    if (username is None) != (password is None):
        raise ConfigurationError(f"{where}: {USERNAME_KEY!r} and {PASSWORD_KEY!r} go together")
    signing = SigningKey(key, accept_until) if key is not None else None
    basic = BasicAuthKey(username, password, accept_until) if username and password else None
    return signing, basic


def previous_callback_key_material(
    document: Mapping[str, object], *, where: str = "secret"
) -> tuple[tuple[str | None, str | None, datetime], ...]:
    """``(callbackKey, signingKey, acceptUntil)`` of each ``previous`` entry holding either of the keys.

    The entries are validated as :func:`webhook_credentials_from` does (raises :class:`ConfigurationError`).
    """
    webhook_credentials_from(document, where=where)
    found: list[tuple[str | None, str | None, datetime]] = []
    for entry in document.get(PREVIOUS_KEY, []):  # type: ignore[attr-defined]  # a list: checked above
        dedicated, signing = entry.get(CALLBACK_KEY), entry.get(SIGNING_KEY)
        if dedicated is not None or signing is not None:
            found.append((dedicated, signing, parse_timestamp(entry[ACCEPT_UNTIL_KEY])))
    return tuple(found)


def webhook_credentials_from(document: Mapping[str, object], *, where: str = "secret") -> WebhookCredentials:
    """Parse the webhook part of the credentials secret (see the module docstring for its shape).

    Raises :class:`ConfigurationError` naming the key or entry at fault, never a value.
    """
    signing_keys: list[SigningKey] = []
    basic_auth: list[BasicAuthKey] = []
    current_key, current_basic = _entry(document, where, None)
    if current_key is not None:
        signing_keys.append(current_key)
    if current_basic is not None:
        basic_auth.append(current_basic)
    previous = document.get(PREVIOUS_KEY, [])
    if not isinstance(previous, Sequence) or isinstance(previous, str | bytes):
        raise ConfigurationError(f"{where}: {PREVIOUS_KEY!r} must be a list")
    if len(previous) > _MAX_PREVIOUS:
        raise ConfigurationError(f"{where}: {PREVIOUS_KEY!r} holds more than {_MAX_PREVIOUS} entries")
    for index, entry in enumerate(previous):
        at = f"{where}: {PREVIOUS_KEY}[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{at} must be an object")
        until = entry.get(ACCEPT_UNTIL_KEY)
        try:
            accept_until = parse_timestamp(until) if isinstance(until, str) else None
        except ValueError:
            accept_until = None
        if accept_until is None:
            raise ConfigurationError(f"{at}: {ACCEPT_UNTIL_KEY!r} must be an ISO-8601 time with a zone")
        old_key, old_basic = _entry(entry, at, accept_until)
        # An entry may hold only an old ``callbackKey`` (callback tokens made before its rotation).
        if old_key is None and old_basic is None and _text(entry, CALLBACK_KEY, at) is None:
            raise ConfigurationError(
                f"{at} holds neither {SIGNING_KEY!r} nor {USERNAME_KEY!r}/{PASSWORD_KEY!r}"
            )
        if old_key is not None:
            signing_keys.append(old_key)
        if old_basic is not None:
            basic_auth.append(old_basic)
    return WebhookCredentials(tuple(signing_keys), tuple(basic_auth))
