"""The §6 payment methods response: groups of channel entries, as the gateway sends them.

Kept apart from :mod:`pay1st.models` only for size; import these names from either module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pay1st import _json
from pay1st._fields import _frozen, _mapping, _optional_text, _required, _Response
from pay1st.errors import ValidationError

__all__ = ["PaymentChannel", "PaymentMethodGroup", "PaymentMethods"]


@dataclass(frozen=True)
class PaymentChannel:
    """A §6 channel entry. ``id`` is what a checkout link's ``channelId`` takes."""

    id: str
    name: str | None
    code: str | None
    status: str | None
    payment_method: str | None
    image_location: str | None
    payment_method_type: str | None
    required_parameters: Any
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_active(self) -> bool:
        option_status = _sub(self.raw, "paymentOption").get("status")
        return self.status == "ACTIVE" and option_status in (None, "ACTIVE")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentChannel:
        channel = _sub(data, "channel")
        option = _sub(data, "paymentOption")
        method_type = _sub(data, "paymentMethodType")
        return cls(
            id=str(_required(data, "id")),
            name=_optional_text(channel.get("name") or option.get("name")),
            code=_optional_text(channel.get("code")),
            status=_optional_text(channel.get("status")),
            payment_method=_optional_text(channel.get("paymentMethod")),
            image_location=_optional_text(channel.get("imageLocation")),
            payment_method_type=_optional_text(method_type.get("code")),
            required_parameters=_embedded_json(method_type.get("requiredParameters")),
            raw=_frozen(data),
        )


def _sub(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _embedded_json(value: object) -> Any:
    # requiredParameters is a JSON document encoded as a string; a malformed one is kept as the string.
    if isinstance(value, str):
        try:
            return _json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


@dataclass(frozen=True)
class PaymentMethodGroup:
    id: str
    name: str | None
    image_location: str | None
    channels: tuple[PaymentChannel, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentMethodGroup:
        entries = data.get("channels") or []
        if not isinstance(entries, list):
            raise ValidationError("channels", "must be a list")
        return cls(
            id=str(_required(data, "id")),
            name=_optional_text(data.get("name")),
            image_location=_optional_text(data.get("imageLocation")),
            channels=tuple(PaymentChannel.from_dict(_mapping(entry, "channels")) for entry in entries),
            raw=_frozen(data),
        )


@dataclass(frozen=True)
class PaymentMethods(_Response):
    """The §6 response: groups of channel entries. ``raw`` is the whole document, for passing through."""

    groups: tuple[PaymentMethodGroup, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def channels(self) -> tuple[PaymentChannel, ...]:
        return tuple(channel for group in self.groups for channel in group.channels)

    def channel(self, channel_id: str | int) -> PaymentChannel | None:
        wanted = str(channel_id)
        return next((c for c in self.channels if c.id == wanted), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PaymentMethods:
        inner = data.get("data")
        groups = (inner if isinstance(inner, Mapping) else data).get("groups")
        if not isinstance(groups, list):
            raise ValidationError("data.groups", "must be a list")
        return cls(
            groups=tuple(PaymentMethodGroup.from_dict(_mapping(group, "data.groups")) for group in groups),
            raw=_frozen(data),
        )
