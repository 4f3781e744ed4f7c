"""Reading fields of a partner's JSON request body; every failure is a 400 naming the field.

``where`` prefixes the field name for nested objects (e.g. ``"products."``), so the message says which
field of which list was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pay1st.errors import ValidationError

from pay1st_partner.errors import InvalidRequest
from pay1st_partner.references import is_partner_reference


# Untrusted text, before it reaches DynamoDB, the gateway or the logs.
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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(data: bytes) -> dict[str, Any]:
    """Parse a JSON object with exact decimals; anything else is a 400 ``invalid_json``."""
    try:
        value = json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and UnicodeDecodeError; the parser's message is not echoed.
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return value


def reject_unknown(document: Mapping[str, Any], allowed: frozenset[str], where: str = "") -> None:
    """Refuse any field not in ``allowed`` (a typo must not silently drop what the partner meant)."""
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise InvalidRequest(f"{where}{unknown[0]}: is not a recognised field")


def object_list(
    document: Mapping[str, Any], name: str, *, limit: int, required: bool
) -> list[Mapping[str, Any]]:
    """A list of JSON objects of at most ``limit`` items; non-empty when ``required``, else ``[]`` if absent."""
    value = document.get(name)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(f"{name}: must be a list")
    if required and not value:
        raise InvalidRequest(f"{name}: must contain at least one item")
    if len(value) > limit:
        raise InvalidRequest(f"{name}: must contain at most {limit} items")
    if not all(isinstance(item, dict) for item in value):
        raise InvalidRequest(f"{name}: items must be JSON objects")
    return value


def required_string(document: Mapping[str, Any], name: str, *, max_length: int = 255, where: str = "") -> str:
    """A present string of at most ``max_length`` characters that DynamoDB can store (no lone surrogates)."""
    value, field = document.get(name), f"{where}{name}"
    if value is None:
        raise InvalidRequest(f"{field}: is required")
    if not isinstance(value, str):
        raise InvalidRequest(f"{field}: must be a string")
    if len(value) > max_length:
        raise InvalidRequest(f"{field}: must be at most {max_length} characters")
    if not is_utf8_text(value):
        raise InvalidRequest(f"{field}: must be valid Unicode text")
    return value


def required_reference(document: Mapping[str, Any], name: str) -> str:
    """A partner-chosen reference (``partnerReference``, ``refundReference``): the characters Pay1st takes."""
    value = required_string(document, name, max_length=64)
    if not is_partner_reference(value):
        raise InvalidRequest(
            f"{name}: must be 1-64 characters of letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    return value
