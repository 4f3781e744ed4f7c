"""Time as the payments store writes it: UTC, fixed-width ISO-8601 text that sorts as a string.

Stored times are GSI sort keys (``updatedAt``, ``outboxSince``), so their text must sort in time order;
every module that writes or reads one goes through these helpers.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC with milliseconds and ``Z``: sorts correctly as a string (GSI sort keys)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`isoformat` (also reads any ISO-8601 time with ``Z`` or an offset)."""
    moment = datetime.fromisoformat(text)  # Python 3.11+ reads the trailing "Z"
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def age_seconds(text: str, now: datetime) -> float:
    """Seconds from the stored time ``text`` to ``now``."""
    return (now - parse_iso(text)).total_seconds()
