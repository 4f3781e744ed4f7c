"""The partner's payment key, ``partnerReference``: what a valid one looks like.

It travels in URLs, event ids and DynamoDB keys, so it is kept to a safe, bounded alphabet. Every
reference we create matches the pattern; anything else cannot name one of our payments.
"""

from __future__ import annotations

import re

from pay1st_partner.errors import PaymentNotFound

PARTNER_REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def is_partner_reference(value: object) -> bool:
    return isinstance(value, str) and PARTNER_REFERENCE_PATTERN.fullmatch(value) is not None


def require_partner_reference(value: str) -> str:
    """``value`` if it could name a payment; otherwise 404, exactly as for a payment that does not exist."""
    if not is_partner_reference(value):
        raise PaymentNotFound()
    return value


# --- attempts (README "Attempts") ------------------------------------------------------------------------
# Attempt 1 of a payment goes to Pay1st under the partnerReference itself. When its outcome was lost and
# Pay1st then refuses the reference as a duplicate (there is no lookup by partnerReference, §7/§9), attempt
# n (2..MAX_ATTEMPTS) goes under a derived reference:
#
#   <partnerReference>..<n>                                     when that fits in 64 characters;
#   <first k characters>..<n>.<first 12 hex of SHA-256(partnerReference)>   otherwise (exactly 64).
#
# Unique for the lifetime of the integration: a partnerReference of that form is refused at create
# (``is_attempt_reference``), so no partner's reference can equal a derived one; two derived references of
# different payments differ in their stem, or (when cut) in the digest; a full form ends in digits and a cut
# one in ``.<hex>``, so the two forms never meet. Derived references stay within the alphabet and length
# above, so they are valid wherever a partnerReference is (DynamoDB keys, URLs, event ids).
MAX_ATTEMPTS = 9
ATTEMPT_SEPARATOR = ".."
_MAX_LENGTH = 64
_DIGEST_LENGTH = 12
_ATTEMPT_REFERENCE = re.compile(r"^.+\.\.[2-9](?:\.[0-9a-f]{12})?$")


def attempt_reference(partner_reference: str, number: int) -> str:
    """The reference attempt ``number`` (2..MAX_ATTEMPTS) of ``partner_reference`` is created under."""
    if not 2 <= number <= MAX_ATTEMPTS:
        raise ValueError(f"attempt numbers go from 2 to {MAX_ATTEMPTS}")
    full = f"{partner_reference}{ATTEMPT_SEPARATOR}{number}"
    if len(full) <= _MAX_LENGTH:
        return full
    import hashlib

    digest = hashlib.sha256(partner_reference.encode()).hexdigest()[:_DIGEST_LENGTH]
    tail = f"{ATTEMPT_SEPARATOR}{number}.{digest}"
    return partner_reference[: _MAX_LENGTH - len(tail)] + tail


def attempt_number(reference: str) -> int:
    """Which attempt ``reference`` names: 1 for a partnerReference itself, n for a derived one."""
    if not is_attempt_reference(reference):
        return 1
    return int(reference.rsplit(ATTEMPT_SEPARATOR, 1)[1][0])


def is_attempt_reference(value: str) -> bool:
    """True for every derived reference (and so reserved: never accepted as a partnerReference)."""
    return _ATTEMPT_REFERENCE.fullmatch(value) is not None
