"""Helpers for the local stack's tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

import json
from typing import Any

from local_stack.template import PROJECT_ROOT

EVENTS_DIR = PROJECT_ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return event
