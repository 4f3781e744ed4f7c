"""The local stack stops idle containers as Lambda reclaims idle environments (runtime.FunctionPool, IdleReaper).

Real worker processes on a throwaway function; the idle time is short, and a fake clock stands in for the
passing of time where the point is the rule rather than the thread.
"""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_stack.runtime import FunctionPool, IdleReaper, LogSink, lambda_environment
from local_stack.spec import FunctionSpec

HANDLER = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return os.getpid()
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _spec(code_dir: Path) -> FunctionSpec:
    return FunctionSpec(
        logical_id="PidFunction",
        function_name="pid",
        code_dir=code_dir,
        handler="app.handler",
        runtime="python3.13",
        timeout=10,
        memory_size=128,
        layer_dirs=(),
        environment={},
        routes=(),
        queues=(),
        schedules=(),
    )


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> FunctionSpec:
    code_dir = tmp_path_factory.mktemp("pid-function")
    (code_dir / "app.py").write_text(textwrap.dedent(HANDLER), encoding="utf-8")
    return _spec(code_dir)


def _pool(spec: FunctionSpec, idle_seconds: float | None, clock: FakeClock | None = None) -> FunctionPool:
    env = lambda_environment(spec, "http://127.0.0.1:9", {})
    if clock is None:
        return FunctionPool(spec, env, LogSink(None), idle_seconds=idle_seconds)
    return FunctionPool(spec, env, LogSink(None), idle_seconds=idle_seconds, clock=clock)


@pytest.fixture
def pools() -> Iterator[list[FunctionPool]]:
    made: list[FunctionPool] = []
    yield made
    for pool in made:
        pool.close()


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _burst(pool: FunctionPool, concurrency: int, sleep: float) -> list[int]:
    pids: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        result = pool.invoke({"sleep": sleep})
        assert result.ok, result.error
        with lock:
            pids.append(result.result)

    threads = [threading.Thread(target=one) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pids


def test_a_worker_idle_for_the_idle_time_is_stopped_and_the_next_call_is_cold(
    spec: FunctionSpec, pools: list[FunctionPool]
) -> None:
    pool = _pool(spec, idle_seconds=0.5)
    pools.append(pool)
    pids = _burst(pool, concurrency=3, sleep=0.5)
    assert len(set(pids)) == 3  # three at once: three containers
    assert pool.workers == 3
    reaper = IdleReaper([pool], interval=0.05).start()
    try:
        deadline = time.monotonic() + 15
        while pool.workers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.workers == 0
    finally:
        reaper.stop()
    # close() waits for (or kills) each process: every stopped container is gone, not just forgotten.
    assert all(_exited(pid) for pid in pids)
    again = pool.invoke({})
    assert again.ok and again.cold
    assert again.result not in pids


def test_a_worker_is_kept_until_its_idle_time_has_passed_and_reuse_restarts_it(
    spec: FunctionSpec, pools: list[FunctionPool]
) -> None:
    clock = FakeClock()
    pool = _pool(spec, idle_seconds=60, clock=clock)
    pools.append(pool)
    first = pool.invoke({})
    assert first.ok and first.cold
    clock.now += 59
    assert pool.stop_idle() == 0
    reused = pool.invoke({})  # warm, and its idle time starts again from here
    assert reused.ok and not reused.cold and reused.result == first.result
    clock.now += 59
    assert pool.stop_idle() == 0
    clock.now += 1
    assert pool.stop_idle() == 1
    assert pool.workers == 0
    assert _exited(first.result)


def test_a_busy_worker_is_never_stopped(spec: FunctionSpec, pools: list[FunctionPool]) -> None:
    clock = FakeClock()
    pool = _pool(spec, idle_seconds=1, clock=clock)
    pools.append(pool)
    pool.prewarm()
    started = threading.Event()
    results = []

    def busy() -> None:
        started.set()
        results.append(pool.invoke({"sleep": 1.0}))

    thread = threading.Thread(target=busy)
    thread.start()
    started.wait()
    deadline = time.monotonic() + 5
    while pool.workers and pool._idle and time.monotonic() < deadline:  # taken off the idle list
        time.sleep(0.01)
    clock.now += 1000
    assert pool.stop_idle() == 0
    thread.join()
    assert results[0].ok and not results[0].cold
    assert pool.workers == 1
    clock.now += 1
    assert pool.stop_idle() == 1


def test_without_an_idle_time_workers_stay(spec: FunctionSpec, pools: list[FunctionPool]) -> None:
    clock = FakeClock()
    pool = _pool(spec, idle_seconds=None, clock=clock)
    pools.append(pool)
    assert pool.invoke({}).ok
    clock.now += 10**6
    assert pool.stop_idle() == 0
    assert pool.workers == 1
