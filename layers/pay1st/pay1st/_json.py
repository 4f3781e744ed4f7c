"""JSON with Decimal money: parse floats as Decimal, write Decimal as plain JSON numbers.

The stdlib encoder cannot emit a Decimal as a number (only as a string or a float, and a float would
lose the exact amount), so the wire writer is a small recursive one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["decimal_text", "dumps", "loads"]

_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def loads(raw: bytes | str) -> Any:
    """Parse JSON, every non-integer number as a ``Decimal`` (never a float)."""
    return json.loads(raw, parse_float=Decimal)


def decimal_text(value: Decimal) -> str:
    """A finite Decimal as a JSON number in positional notation, keeping its scale (250.50 → ``250.50``)."""
    if not value.is_finite():
        raise ValueError("only finite decimals can be written as JSON numbers")
    return format(value, "f")


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None or isinstance(value, bool):
        out.append("null" if value is None else ("true" if value else "false"))
    elif isinstance(value, Decimal):
        out.append(decimal_text(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise TypeError("float is not allowed on the wire: use Decimal for money")
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            if not isinstance(key, str):
                raise TypeError("JSON object keys must be strings")
            out.append(_encode_str(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes (no spaces), key order preserved: the exact bytes that get signed and sent."""
    out: list[str] = []
    _write(value, out)
    return "".join(out).encode("utf-8")
