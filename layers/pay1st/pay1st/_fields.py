"""Field checks and JSON-document helpers shared by the models (:mod:`pay1st.models`,
:mod:`pay1st.payment_methods`, :mod:`pay1st.refund_models`), and :class:`_Response`, which reads a
response model from its declared fields.

Every check raises :class:`~pay1st.errors.ValidationError` naming the field (wire name where there is
one). Private to the package: the models are the interface.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Self, get_type_hints

from pay1st import _json
from pay1st.errors import ValidationError
from pay1st.iso import currency_minor_units, is_country_code, is_currency_code

# What str.isspace() finds (re's \s on str is the same Unicode test), searched in C: a URL with a token is long,
# and a generator over its characters cost 5% of the simulation.
_WHITESPACE = re.compile(r"\s")

# --- field checks -----------------------------------------------------------------------------------


def _decimal(value: object, name: str) -> Decimal:
    """Money as Decimal. Accepts Decimal, int and numeric strings; refuses float (it has already lost cents)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError(name, "must be a Decimal (or int / numeric string), never a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValidationError(name, "is not a number") from None
    else:
        raise ValidationError(name, "must be a number")
    if not result.is_finite():
        raise ValidationError(name, "must be a finite number")
    return result


def _fits_currency(amount: Decimal, currency: str, name: str) -> None:
    places = currency_minor_units(currency)
    try:
        exact = amount == amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    except InvalidOperation:
        raise ValidationError(name, "is too large") from None
    if not exact:
        raise ValidationError(name, f"has more than {places} decimal places for {currency}")


def _text(value: object, name: str, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError(name, "must be a string")
    if required and not value.strip():
        raise ValidationError(name, "must not be empty")
    return value


def _country(value: object, name: str = "countryCode") -> str:
    if not is_country_code(value):
        raise ValidationError(name, "must be an ISO-3166 alpha-2 country code (e.g. NG, ZA)")
    return str(value)


def _currency(value: object, name: str = "currencyCode") -> str:
    if not is_currency_code(value):
        raise ValidationError(name, "must be an ISO-4217 currency code (e.g. NGN, ZAR)")
    return str(value)


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, "must be an integer")
    if value <= 0:
        raise ValidationError(name, "must be positive")
    return value


def _url(value: object, name: str) -> str | None:
    if value is None:
        return None
    text = _text(value, name)
    if not text.startswith(("https://", "http://")) or _WHITESPACE.search(text):
        raise ValidationError(name, "must be an absolute http(s) URL")
    return text


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError(name, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(name, "must be timezone-aware")
    return value


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # normalising a frozen dataclass in __post_init__


# --- response documents -----------------------------------------------------------------------------


def _document(raw: bytes | str | Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if isinstance(raw, bytes | str):
        try:
            data = _json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
            raise ValidationError(name, "is not valid JSON") from None
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise ValidationError(name, "must be a JSON object")
    return data


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(name, "items must be JSON objects")
    return value


def _required(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise ValidationError(key, "is required")
    return value


def _required_text(data: Mapping[str, Any], key: str) -> str:
    return _text(_required(data, key), key)


def _optional_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


def _optional_decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else _decimal(value, key)


def _optional_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


# How a response field is read, by its declared type.
_Reader = Callable[[Mapping[str, Any], str], Any]
_READERS: dict[object, _Reader] = {
    str: _required_text,
    str | None: lambda data, key: _optional_text(data.get(key)),
    Decimal: lambda data, key: _decimal(_required(data, key), key),
    Decimal | None: _optional_decimal,
    bool | None: _optional_bool,
}


def _wire_name(attribute: str) -> str:
    first, *rest = attribute.split("_")
    return first + "".join(word.capitalize() for word in rest)


# Field metadata key: a function of the whole document that reads this field (for a value with no one key).
_READ = "pay1st.read"


def _from_document(read: Callable[[Mapping[str, Any]], Any]) -> _Reader:
    return lambda data, _wire: read(data)


@functools.cache
def _plan(model: type) -> tuple[tuple[str, str, _Reader | None], ...]:
    """(attribute, wire name, reader) per field in declared order; ``raw`` (reader None) is the document."""
    hints = get_type_hints(model)
    plan: list[tuple[str, str, _Reader | None]] = []
    for item in dataclasses.fields(model):
        if item.name == "raw":
            plan.append((item.name, "", None))
            continue
        reader = (
            _from_document(item.metadata[_READ]) if _READ in item.metadata else _READERS.get(hints[item.name])
        )
        if reader is None:
            raise TypeError(f"{model.__name__}.{item.name}: no reader for {hints[item.name]!r}")
        plan.append((item.name, _wire_name(item.name), reader))
    return tuple(plan)


class _Response:
    """A response model (a dataclass) read from its declared fields, in their order: each field's wire
    name is its name in camelCase (``partner_reference``: ``partnerReference``), read by its declared
    type (``str`` required text, ``str | None`` optional text, ``Decimal`` required money, ...); a field
    named ``raw`` keeps the whole document, one with ``metadata={_READ: read}`` is ``read(document)``. A
    model whose document does not map this way overrides :meth:`from_dict`."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        model: type = cls
        values = {
            name: _frozen(data) if reader is None else reader(data, wire)
            for name, wire, reader in _plan(model)
        }
        return cls(**values)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.from_dict(_document(raw, "body"))
