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
