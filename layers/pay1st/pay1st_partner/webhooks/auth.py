"""Who may post to our public webhook routes: the authentication step of webhook intake (contract §10).

Every public webhook route shares one :class:`WebhookAuthenticator` (``runtime.webhook_authenticator()``
builds the deployed one). It runs on the raw body before anything is parsed or stored.

Signature modes (``WebhookSignatureMode``):

- ``signing-key`` (old name ``required``): ``X-SIGNATURE`` over ``X-TIMESTAMP + body`` with the Signing Key;
- ``basic-auth``: ``X-SIGNATURE`` over the trimmed body, keyed with ``base64(username:password)``;
- ``any`` (default): whichever of the two has credentials in the secret verifies it;
- ``off``: an event with neither header is accepted unauthenticated (it only prompts a status query);
  one carrying a signature header is verified as in ``any``.

Previous credentials in the secret count until their ``acceptUntil`` (``pay1st.webhook_credentials``).

A rejection is a 401 with a stable code (``missing_signature``, ``invalid_signature``, ``stale_timestamp``),
a ``WebhookRejected`` metric per reason, and - when a :class:`RejectionLog` is given - a record kept a week
with a diagnosis and the names (never values) of the authentication headers, plus the modes that would
have accepted it; one that looks like a misconfiguration (:func:`budget_share`) may use the share of
the hour's records that anonymous junk cannot spend. Secrets and header values never reach a log line,
a record or an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pay1st.errors import SignatureVerificationError
from pay1st.webhook_credentials import BasicAuthKey, SigningKey, WebhookCredentials
from pay1st.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    has_signature_headers,
    header,
    verify_basic_auth,
    verify_webhook,
)

from pay1st_partner.clock import utcnow
from pay1st_partner.errors import WebhookRejected
from pay1st_partner.observability import count, logger
from pay1st_partner.webhooks.rejections import (
    ANONYMOUS,
    MISCONFIGURATION,
    Rejection,
    RejectionLog,
    header_names,
)

SIGNING_KEY_SCHEME = "signing-key"
BASIC_AUTH_SCHEME = "basic-auth"
SCHEMES = (SIGNING_KEY_SCHEME, BASIC_AUTH_SCHEME)
_MODE_SCHEMES = {
    "any": SCHEMES,
    "off": SCHEMES,
    SIGNING_KEY_SCHEME: (SIGNING_KEY_SCHEME,),
    BASIC_AUTH_SCHEME: (BASIC_AUTH_SCHEME,),
}
WRONG_PARTNER = "wrong_partner"

_STALE = frozenset(
    {SignatureVerificationError.TIMESTAMP_TOO_OLD, SignatureVerificationError.TIMESTAMP_IN_FUTURE}
)
_REJECTION_MESSAGES = {
    "missing_signature": "The webhook must carry an X-SIGNATURE header (and X-TIMESTAMP for signing-key).",
    "invalid_signature": "The webhook signature could not be verified.",
    "stale_timestamp": "The webhook timestamp is outside the accepted window.",
}
# What both schemes put in X-SIGNATURE: a hex HMAC-SHA256 (either case, as verification accepts it).
_WELL_FORMED_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")
# Header names worth reporting: what a gateway might authenticate with. Names only, never values.
_AUTH_NAME_PARTS = ("signature", "timestamp", "auth", "hmac", "token", "digest", "key", "secret")
_NOT_CONFIGURED = {
    SIGNING_KEY_SCHEME: "no signingKey in the credentials secret",
    BASIC_AUTH_SCHEME: "no webhookUsername/webhookPassword in the credentials secret",
}


def _held(scheme: str, credentials: WebhookCredentials, now: datetime) -> tuple[list[Any], list[Any]]:
    """``scheme``'s current credentials and its previous ones still accepted at ``now``, as its verifier
    takes them (signing keys; (username, password) pairs)."""
    entries: Sequence[SigningKey | BasicAuthKey] = (
        credentials.signing_keys if scheme == SIGNING_KEY_SCHEME else credentials.basic_auth
    )

    def value(entry: SigningKey | BasicAuthKey) -> Any:
        return entry.key if isinstance(entry, SigningKey) else (entry.username, entry.password)

    current = [value(entry) for entry in entries if entry.accept_until is None]
    previous = [
        value(entry) for entry in entries if entry.accept_until is not None and entry.accepted_at(now)
    ]
    return current, previous


@dataclass(frozen=True)
class Authentication:
    """How an accepted event was authenticated (``scheme`` None: unsigned, allowed in mode ``off``)."""

    scheme: str | None = None
    previous_key: bool = False  # verified with rotated-out credentials still inside their window

    @property
    def verified(self) -> bool:
        return self.scheme is not None


class WebhookAuthenticator:
    def __init__(
        self,
        signing_key: Callable[[], str] | None = None,
        *,
        signature_required: bool = True,
        mode: str | None = None,
        credentials: Callable[[], WebhookCredentials] | None = None,
        partner_code: str | None = None,
        partner_id: str | None = None,
        rejections: RejectionLog | None = None,
        tolerance_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``credentials`` (read on each event; cached by the caller) wins over the older ``signing_key``.

        ``mode`` wins over the older ``signature_required`` (True: ``signing-key``, False: ``off``).
        """
        if credentials is None:
            if signing_key is None:
                raise ValueError("give credentials (or a signing_key)")
            key = signing_key

            def only_the_signing_key() -> WebhookCredentials:
                return WebhookCredentials(signing_keys=(SigningKey(key()),))

            credentials = only_the_signing_key
        self._credentials: Callable[[], WebhookCredentials] = (
            credentials  # a callable: the secret is only read when a signature needs it
        )
        self._mode = mode or (SIGNING_KEY_SCHEME if signature_required else "off")
        if self._mode not in _MODE_SCHEMES:
            raise ValueError(f"unknown signature mode {self._mode!r}")
        self._partner_code = partner_code
        self._partner_id = partner_id
        self._rejections = rejections
        self._tolerance = tolerance_seconds
        self._clock = clock

    @property
    def mode(self) -> str:
        return self._mode

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """True when the event is authenticated, False when it is unsigned and that is allowed.

        Raises :class:`WebhookRejected` (401) otherwise, after counting and keeping the reason.
        """
        return self.authenticate(raw_body, headers).verified

    def authenticate(self, raw_body: bytes, headers: Mapping[str, str]) -> Authentication:
        if self._mode == "off" and not has_signature_headers(headers):
            return Authentication()
        now = self._clock()
        credentials = self._credentials()
        refusals: dict[str, str] = {}
        reasons: set[str] = set()  # of the schemes that had credentials and refused
        for scheme in _MODE_SCHEMES[self._mode]:
            try:
                verify = self._verifier(scheme, raw_body, headers, now)
                accepted = self._try(scheme, verify, _held(scheme, credentials, now))
            except SignatureVerificationError as exc:
                refusals[scheme] = str(exc)
                reasons.add(exc.reason)
                continue
            if accepted is not None:
                return accepted
            refusals[scheme] = _NOT_CONFIGURED[scheme]
        if reasons & _STALE:
            code = "stale_timestamp"  # an authentic signature, outside the window
        elif not header(headers, SIGNATURE_HEADER) or reasons == {SignatureVerificationError.MISSING_HEADER}:
            code = "missing_signature"
        else:
            code = "invalid_signature"
        raise self._reject(raw_body, headers, code, refusals, credentials=credentials, now=now)

    def _verifier(
        self, scheme: str, raw_body: bytes, headers: Mapping[str, str], now: datetime
    ) -> Callable[[Sequence[Any]], object]:
        """Verifies the event under ``scheme`` against the credentials given; raises when refused."""
        if scheme == SIGNING_KEY_SCHEME:
            return lambda keys: verify_webhook(
                raw_body, headers, keys, tolerance_seconds=self._tolerance, now=now
            )
        return lambda pairs: verify_basic_auth(raw_body, headers, pairs)

    def _try(
        self, scheme: str, verify: Callable[[Sequence[Any]], object], held: tuple[list[Any], list[Any]]
    ) -> Authentication | None:
        """The authentication under ``scheme``; None when it has no credentials; raises when refused.

        The current credentials first; the previous ones (rotated out, still in their window) only when
        the current ones give a bad signature."""
        current, previous = held
        if not current and not previous:
            return None
        try:
            verify(current)
            return Authentication(scheme)
        except SignatureVerificationError as exc:
            if exc.reason != SignatureVerificationError.BAD_SIGNATURE or not previous:
                raise
        verify(previous)
        return self._previous(scheme)

    @staticmethod
    def _previous(scheme: str) -> Authentication:
        logger.warning("webhook verified with previous credentials", extra={"scheme": scheme})
        count("WebhookPreviousCredentials", scheme=scheme)
        return Authentication(scheme, previous_key=True)

    def _reject(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        code: str,
        refusals: Mapping[str, str],
        *,
        credentials: WebhookCredentials,
        now: datetime,
    ) -> WebhookRejected:
        """Count, log and keep the rejection; the error to raise."""
        would = self._would_accept(raw_body, headers, credentials, now)
        rejection = Rejection(
            reason=code,
            diagnosis=diagnose(headers, refusals, self._mode, would),
            mode=self._mode,
            header_names=auth_header_names(headers),
            would_accept_with=would,
            share=budget_share(headers, code, would),
        )
        count("WebhookRejected", reason=code)
        logger.warning(
            "webhook rejected",
            extra={"reason": code, "diagnosis": rejection.diagnosis, "header_names": rejection.header_names},
        )
        if self._rejections is not None:
            self._rejections.keep(raw_body, rejection)
        return WebhookRejected(code, _REJECTION_MESSAGES[code])

    def _would_accept(
        self, raw_body: bytes, headers: Mapping[str, str], credentials: WebhookCredentials, now: datetime
    ) -> tuple[str, ...]:
        """The modes that would have accepted this event (a scheme this mode does not try, that verifies)."""
        for scheme in SCHEMES:
            if scheme in _MODE_SCHEMES[self._mode]:
                continue
            current, previous = _held(scheme, credentials, now)
            if not current and not previous:
                continue
            try:
                self._verifier(scheme, raw_body, headers, now)(current + previous)
            except SignatureVerificationError:
                continue
            return (scheme, "any")
        return ()

    def foreign_partner(self, partner_id: str | None, partner_code: str | None) -> str | None:
        """Why an event names another partner than the configured one (None: it names us, or nobody)."""
        if self._partner_code is not None and partner_code is not None and partner_code != self._partner_code:
            return "partnerCode is not ours"
        if self._partner_id is not None and partner_id is not None and partner_id != self._partner_id:
            return "partnerId is not ours"
        return None


def budget_share(headers: Mapping[str, str], code: str, would: tuple[str, ...]) -> str:
    """Which share of the hour's kept rejections this one may use (``rejections`` module docstring).

    A misconfiguration: an authentic signature refused by our window or our mode, or a well-formed one that
    fails (a wrong key, the other scheme, wrong basic-auth credentials). Anonymous: no signature, or one no
    Pay1st scheme would produce. (A signed event for another partner is refused later, by the intake, and
    recorded with the accepted events, outside this budget.)
    """
    if code == "stale_timestamp" or would:
        return MISCONFIGURATION
    signature = header(headers, SIGNATURE_HEADER)
    if signature is not None and _WELL_FORMED_SIGNATURE.fullmatch(signature.strip()):
        return MISCONFIGURATION
    return ANONYMOUS


def auth_header_names(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The names of the headers that look like authentication (upper-cased), never their values."""
    return header_names(
        [name.upper() for name in headers if any(part in name.lower() for part in _AUTH_NAME_PARTS)]
    )


def diagnose(
    headers: Mapping[str, str], refusals: Mapping[str, str], mode: str, would: tuple[str, ...] = ()
) -> str:
    """E.g. ``X-SIGNATURE without X-TIMESTAMP; signing-key refused it (missing X-TIMESTAMP header)``."""
    signature = bool(header(headers, SIGNATURE_HEADER))
    timestamp = bool(header(headers, TIMESTAMP_HEADER))
    if signature and timestamp:
        carried = "X-SIGNATURE and X-TIMESTAMP"
    elif signature:
        carried = "X-SIGNATURE without X-TIMESTAMP"
    elif timestamp:
        carried = "X-TIMESTAMP without X-SIGNATURE"
    else:
        carried = "neither X-SIGNATURE nor X-TIMESTAMP"
    parts = [carried]
    parts += [f"{scheme} refused it ({why})" for scheme, why in refusals.items()]
    parts.append(f"WebhookSignatureMode={mode}")
    if would:
        parts.append(f"{would[0]} would accept it (WebhookSignatureMode={' or '.join(would)})")
    return "; ".join(parts)
