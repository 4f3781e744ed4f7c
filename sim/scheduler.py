"""One deterministic scheduler: a heap of timed events and the invocations (greenlets) it runs.

An invocation is a Lambda run (a handler call) in a greenlet of its own. It runs until it reaches a boundary
(a store call, an AWS call, a gateway call: :meth:`Scheduler.boundary`) or sleeps; there the scheduler may
crash it (it is dropped: what it wrote stays, the rest is lost, as when Lambda kills a function) or park it
for a latency the seed chooses, and run whatever is due next. Ties in time go by insertion order, so one seed
gives one interleaving. No threads, no real sleeps.
"""

from __future__ import annotations

import heapq
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import greenlet

from sim.clock import VirtualClock


class Crash(BaseException):
    """Raised into nothing: marks an invocation the scheduler killed (never caught by the bundle)."""


@dataclass
class Invocation:
    name: str
    payment: str | None
    body: Callable[[], Any]
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[BaseException], None] | None = None
    on_crash: Callable[[str], None] | None = None
    crashable: bool = True
    glet: Any = None
    dead: bool = False
    touched: set[str] = field(default_factory=set)
    own_writes: int = 0
    ident: int = 0


class _Glet(greenlet.greenlet):  # type: ignore[misc]
    invocation: Invocation


def running() -> Invocation | None:
    """The invocation whose greenlet is running now (None: the scheduler itself)."""
    return getattr(greenlet.getcurrent(), "invocation", None)


class Scheduler:
    def __init__(self, clock: VirtualClock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = 0
        self.main = greenlet.getcurrent()
        self.current: Invocation | None = None
        self.crash_rate = 0.0  # per boundary, while faults are on
        self.faults_on = True
        self.crashes = 0
        self.invocations = 0
        self.on_crash_hook: Callable[[Invocation, str], None] | None = None
        self.after_step: Callable[[Invocation | None], None] | None = None
        # Invocations started and not finished: parked past the end of the run, or killed (never resumed).
        self._unfinished: weakref.WeakSet[Any] = weakref.WeakSet()
        clock.park = self._park

    # ------------------------------------------------------------------ events

    def at(self, delay: float, action: Callable[[], object]) -> None:
        """Run ``action`` after ``delay`` virtual seconds (what it returns is ignored)."""
        self._seq += 1
        heapq.heappush(self._heap, (self.clock.now + max(0.0, delay), self._seq, action))

    def pending(self) -> int:
        return len(self._heap)

    def run_until(self, stop: Callable[[], bool], horizon: float | None = None) -> None:
        while self._heap and not stop():
            when, _, action = self._heap[0]
            if horizon is not None and when > horizon:
                break
            heapq.heappop(self._heap)
            if when > self.clock.now:
                self.clock.now = when
            action()

    # ------------------------------------------------------------- invocations

    def invoke(self, invocation: Invocation, delay: float = 0.0) -> None:
        self.invocations += 1
        invocation.ident = self.invocations
        self.at(delay, lambda: self._start(invocation))

    def _start(self, invocation: Invocation) -> None:
        def run() -> None:
            try:
                result = invocation.body()
            except Crash:
                return
            except greenlet.GreenletExit:
                return
            except Exception as exc:
                if invocation.dead:
                    return
                invocation.dead = True
                if invocation.on_error is None:
                    raise
                invocation.on_error(exc)
                return
            if invocation.dead:
                return
            invocation.dead = True
            if invocation.on_done is not None:
                invocation.on_done(result)

        invocation.glet = _Glet(run, parent=self.main)
        invocation.glet.invocation = invocation
        self._unfinished.add(invocation.glet)
        self._resume(invocation)

    def _resume(self, invocation: Invocation) -> None:
        if invocation.dead and invocation.glet is not None and invocation.glet.dead:
            return
        previous = self.current
        self.current = invocation
        try:
            invocation.glet.switch()
        finally:
            self.current = previous
        if self.after_step is not None:
            self.after_step(invocation)

    def _park(self, seconds: float) -> None:
        invocation = running()
        if invocation is None:
            self.clock.now += seconds
            return
        if invocation.dead:
            raise Crash()
        self.at(seconds, lambda: self._resume(invocation))
        self.main.switch()
        if invocation.dead:
            raise Crash()

    def close(self) -> None:
        """End every invocation left suspended (parked past the run's end, or killed): each unwinds as a crash
        does (it is dead: its next boundary raises). Left alone, a suspended greenlet keeps its frames, and they
        the whole world: the garbage collector cannot see into them, so a long run kept every cohort's world
        (25 MB each, a million payments in 2 processes past the machine's memory)."""
        for glet in list(self._unfinished):
            if not glet.dead:
                glet.invocation.dead = True
                glet.throw(greenlet.GreenletExit)
        self._heap.clear()

    def boundary(self, label: str, *, latency: float | None = None, crash: bool = True) -> None:
        """A point where another invocation may run first, and where this one may be killed."""
        invocation = running()
        if invocation is None:
            return
        if invocation.dead:
            raise Crash()
        if (
            crash
            and invocation.crashable
            and self.faults_on
            and self.crash_rate
            and self.rng.random() < self.crash_rate
        ):
            self.kill(invocation, label)
            raise Crash()  # unreachable in practice: kill switches away for good
        if latency is None:
            # Mostly a few milliseconds; now and then a slow call (a cold connection, a GC pause, a throttled
            # retry inside the SDK) that leaves a wide window for another invocation to run first.
            latency = self.rng.random() * 0.02 if self.rng.random() < 0.9 else 0.05 + self.rng.random() * 2.0
        self._park(latency)

    def kill(self, invocation: Invocation, label: str) -> None:
        invocation.dead = True
        self.crashes += 1
        if invocation.on_crash is not None:
            invocation.on_crash(label)
        if self.on_crash_hook is not None:
            self.on_crash_hook(invocation, label)
        if running() is invocation:
            self.main.switch()  # never resumed; a GreenletExit at collection finds it dead at every boundary
