"""JSON with exact decimals: 250.50 goes in and comes out as 250.50, never as a float."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str) -> Any:
    """Parse JSON, numbers with a fraction or exponent as Decimal; NaN/Infinity are rejected."""
    return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: object) -> bytes:
    """Compact UTF-8 JSON in which a Decimal is written as the number it holds (str(Decimal('250.50')))."""
    return "".join(_encode(value)).encode("utf-8")


def _encode(value: object) -> Iterator[str]:
    # The stdlib encoder can only write Decimal by going through float, which loses "250.50".
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a non-finite Decimal cannot be written as JSON")
        yield str(value)
    elif value is None or isinstance(value, bool | int | float | str):
        yield json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Mapping):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ","
            yield json.dumps(str(key), ensure_ascii=False)
            yield ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
