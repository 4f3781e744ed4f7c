"""Who may post to our public webhook routes: the authentication step of webhook intake (contract §10).

Runs on the raw body before anything is parsed or stored. A rejection is a 401 with a stable code and a
``WebhookRejected`` metric per reason; an accepted event says whether it was authenticated at all
(``False`` only for an unsigned event in signature mode ``off``, which then only prompts a status query).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from pay1st.errors import SignatureVerificationError
from pay1st.webhooks import has_signature_headers, verify_webhook

from pay1st_partner.clock import utcnow
from pay1st_partner.errors import WebhookRejected
from pay1st_partner.observability import count

_REJECTION_CODES = {
    SignatureVerificationError.MISSING_HEADER: "missing_signature",
    SignatureVerificationError.MALFORMED_TIMESTAMP: "invalid_signature",
    SignatureVerificationError.BAD_SIGNATURE: "invalid_signature",
    SignatureVerificationError.TIMESTAMP_TOO_OLD: "stale_timestamp",
    SignatureVerificationError.TIMESTAMP_IN_FUTURE: "stale_timestamp",
}
_REJECTION_MESSAGES = {
    "missing_signature": "The webhook must carry X-SIGNATURE and X-TIMESTAMP headers.",
    "invalid_signature": "The webhook signature could not be verified.",
    "stale_timestamp": "The webhook timestamp is outside the accepted window.",
}


class WebhookAuthenticator:
    def __init__(
        self,
        signing_key: Callable[[], str],
        *,
        signature_required: bool = True,
        tolerance_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._signing_key = signing_key  # a callable: the secret is only read when a signature needs it
        self._signature_required = signature_required
        self._tolerance = tolerance_seconds
        self._clock = clock

    def verify(self, raw_body: bytes, headers: Mapping[str, str]) -> bool:
        """True when the event is authenticated, False when it is unsigned and that is allowed.

        Raises :class:`WebhookRejected` (401) otherwise, after counting the reason.
        """
        if not self._signature_required and not has_signature_headers(headers):
            return False
        try:
            verify_webhook(
                raw_body, headers, self._signing_key(), tolerance_seconds=self._tolerance, now=self._clock()
            )
        except SignatureVerificationError as exc:
            code = _REJECTION_CODES.get(exc.reason, "invalid_signature")
            count("WebhookRejected", reason=code)
            raise WebhookRejected(code, _REJECTION_MESSAGES[code]) from None
        return True
