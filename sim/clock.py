"""The virtual clock, and its installation into the layer: every reading of time comes from it.

The layer reads time three ways: ``pay1st_partner.clock.utcnow`` (most of the domain), ``datetime.now`` in a
few modules, and ``time.time``/``time.monotonic``/``time.sleep`` (the gateway client, the token manager, the
poller's budget), often bound as keyword defaults at import. :func:`install` replaces each of them in the
loaded ``pay1st``/``pay1st_partner`` modules (module globals and function defaults), so nothing in a run
depends on the wall clock; :func:`uninstall` puts them back. Sleeping parks the calling invocation on the
scheduler until the virtual time has passed (:meth:`VirtualClock.sleep`).
"""

from __future__ import annotations

import sys
import time as _real_time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

# The world starts here (a fixed instant: the same seed gives the same stored times).
EPOCH = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0  # seconds since EPOCH
        # Set by the scheduler: parks the current invocation for ``seconds`` of virtual time.
        self.park: Callable[[float], None] | None = None

    def time(self) -> float:
        return EPOCH.timestamp() + self.now

    def monotonic(self) -> float:
        return 1000.0 + self.now

    def datetime(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.park is None:
            self.now += seconds
        else:
            self.park(seconds)


def _virtual_datetime(clock: VirtualClock) -> type[datetime]:
    class VirtualDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            moment = clock.datetime()
            return moment if tz is None or tz is UTC else moment.astimezone(tz)

        @classmethod
        def utcnow(cls) -> datetime:  # type: ignore[override]
            return clock.datetime().replace(tzinfo=None)

    return VirtualDatetime


def _virtual_time(clock: VirtualClock) -> types.SimpleNamespace:
    namespace = types.SimpleNamespace(
        **{k: getattr(_real_time, k) for k in dir(_real_time) if not k.startswith("__")}
    )
    namespace.time = clock.time
    namespace.monotonic = clock.monotonic
    namespace.sleep = clock.sleep
    namespace.perf_counter = clock.monotonic
    return namespace


_REAL = {_real_time.time: "time", _real_time.monotonic: "monotonic", _real_time.sleep: "sleep"}


def _functions_of(module: types.ModuleType) -> list[types.FunctionType]:
    found: list[types.FunctionType] = []
    for value in list(vars(module).values()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            found.append(value)
        elif isinstance(value, type) and value.__module__ == module.__name__:
            for member in vars(value).values():
                function = getattr(member, "__func__", member)
                if isinstance(function, types.FunctionType):
                    found.append(function)
    return found


class Installation:
    """What :func:`install` replaced, to put back."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []

    def set_attr(self, target: Any, name: str, value: Any) -> None:
        old = getattr(target, name)
        setattr(target, name, value)
        self.undo.append(lambda: setattr(target, name, old))

    def uninstall(self) -> None:
        while self.undo:
            self.undo.pop()()


def install(clock: VirtualClock, extra: dict[str, Any] | None = None) -> Installation:
    """Point every loaded module of the layer at ``clock`` (module globals ``time``/``datetime`` and keyword
    defaults bound to the real ``time`` functions); ``extra`` maps further module globals to replace."""
    done = Installation()
    vtime = _virtual_time(clock)
    vdatetime = _virtual_datetime(clock)
    replacement = {"time": clock.time, "monotonic": clock.monotonic, "sleep": clock.sleep}
    for name, module in sorted(sys.modules.items()):
        if module is None or not (
            name.split(".")[0] in ("pay1st", "pay1st_partner") or name.startswith("sim_fn_")
        ):
            continue
        if getattr(module, "time", None) is _real_time:
            done.set_attr(module, "time", vtime)
        if getattr(module, "datetime", None) is datetime:
            done.set_attr(module, "datetime", vdatetime)
        for key, value in (extra or {}).items():
            owner, _, attr = key.rpartition(".")
            if owner == name and hasattr(module, attr):
                done.set_attr(module, attr, value)
        for function in _functions_of(module):
            for slot in ("__defaults__", "__kwdefaults__"):
                defaults = getattr(function, slot)
                if not defaults:
                    continue
                if slot == "__defaults__":
                    new = tuple(replacement[_REAL[d]] if _is_real(d) else d for d in defaults)
                    if new != defaults:
                        done.set_attr(function, slot, new)
                else:
                    changed = {k: replacement[_REAL[d]] for k, d in defaults.items() if _is_real(d)}
                    if changed:
                        done.set_attr(function, slot, {**defaults, **changed})
    return done


def _is_real(value: Any) -> bool:
    try:
        return value in _REAL
    except TypeError:
        return False
