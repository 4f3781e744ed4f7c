"""Checks on untrusted text before it reaches DynamoDB, the gateway or the logs."""

from __future__ import annotations

from collections.abc import Mapping

from pay1st.errors import ValidationError


def is_utf8_text(value: str) -> bool:
    """False for a string with a lone UTF-16 surrogate (JSON allows ``"\\ud800"``; UTF-8 cannot carry it).

    boto3, DynamoDB and the JSON logger all encode text as UTF-8, so such a string must be refused as
    input (a 400) before any of them fails on it.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def require_text(fields: Mapping[str, str | None]) -> None:
    """Raise ValidationError for the first field that is not UTF-8 text (a webhook's, say): an invalid event."""
    for name, value in fields.items():
        if value is not None and not is_utf8_text(value):
            raise ValidationError(name, "is not valid Unicode text")
