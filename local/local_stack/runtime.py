"""Run functions isolated as Lambda would: one worker process per warm container, its own env and import path."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local_stack.aws import FAKE_CREDENTIALS, REGION
from local_stack.spec import FunctionSpec

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit
# Lambda reclaims an execution environment some minutes after its last invocation (not documented exactly;
# observed 5-15 min). Locally a container left idle this long is stopped: a burst must not hold its memory
# (~65 MiB a worker) for the life of `make serve`. The next invocation after that is a cold start again.
DEFAULT_IDLE_SECONDS = 300.0


@dataclass(frozen=True)
class InvokeResult:
    function_id: str
    result: Any = None
    error: Mapping[str, Any] | None = None
    cold: bool = False
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


class LogSink:
    """Where the functions' logs go (a terminal or a file), one prefixed line at a time, thread-safe."""

    def __init__(self, stream: IO[str] | None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, source: str, line: str) -> None:
        if self._stream is None:
            return
        with self._lock:
            self._stream.write(f"[{source}] {line.rstrip()}\n")
            self._stream.flush()


def lambda_environment(spec: FunctionSpec, endpoint_url: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The worker's whole environment: the function's (template) variables, then what Lambda itself sets.

    Nothing is inherited from the runner's environment except PATH; the user's AWS config files are hidden so
    nothing can reach a real account.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC"}
    env.update(spec.environment)
    env.update(extra)
    env.update(FAKE_CREDENTIALS)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_SAM_LOCAL": "true",  # what `sam local` sets: Powertools Tracer disables itself (no X-Ray daemon)
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            # The function's code first, then its layers (as source: the layer's dependencies come from the
            # venv, like boto3 comes from the Lambda runtime). Nothing else of the project is importable.
            "PYTHONPATH": os.pathsep.join([str(spec.code_dir), *(str(layer) for layer in spec.layer_dirs)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class WorkerFailed(Exception):
    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(error.get("errorMessage", ""))
        self.error = error


class Worker:
    """One warm container: a subprocess running worker.py with the function's environment."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], log: LogSink) -> None:
        self.spec = spec
        self._log = log
        self._answers: queue.Queue[str | None] = queue.Queue()
        if not spec.code_dir.is_dir():
            raise WorkerFailed(
                {
                    "errorType": "Runtime.ImportModuleError",
                    "errorMessage": f"no code directory {spec.code_dir}",
                }
            )
        self._process = subprocess.Popen(  # noqa: S603 - our own worker script with the venv's interpreter
            [sys.executable, "-P", str(WORKER_SCRIPT)],
            env=dict(env),
            cwd=spec.code_dir,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # Ctrl-C stops the runner, which then ends its containers itself
        )
        threading.Thread(target=self._read_answers, daemon=True).start()
        threading.Thread(target=self._read_logs, daemon=True).start()
        ready = self._next_answer(INIT_TIMEOUT_SECONDS)
        if not ready.get("ready"):
            self.kill()
            raise WorkerFailed(
                ready.get("error") or {"errorType": "Runtime.Unknown", "errorMessage": "init failed"}
            )

    def _read_answers(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._answers.put(line)
        self._answers.put(None)

    def _read_logs(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._log.write(self.spec.logical_id, line)

    def _next_answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return {
                "ok": False,
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {timeout:.2f} seconds",
                },
            }
        if line is None:
            return {
                "ok": False,
                "error": {"errorType": "Runtime.ExitError", "errorMessage": "the worker process exited"},
            }
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, event: Any, request_id: str) -> dict[str, Any]:
        deadline_ms = int((time.time() + self.spec.timeout) * 1000)
        assert self._process.stdin is not None
        request = {"event": event, "requestId": request_id, "deadlineMs": deadline_ms}
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            return {
                "ok": False,
                "error": {"errorType": "Runtime.ExitError", "errorMessage": "worker is gone"},
            }
        return self._next_answer(self.spec.timeout)

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    @property
    def pid(self) -> int:
        return self._process.pid

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def shut_down(self) -> None:
        """Ask to exit (end of input), without waiting: see ``close``."""
        if self._process.stdin is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass

    def close(self, deadline: float | None = None) -> None:
        """End the container: Lambda gives an idle one no say either, so after a short grace, kill it.

        ``deadline`` (a ``time.monotonic()`` value) lets many containers share one grace period.
        """
        self.shut_down()
        grace = 0.3 if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self._process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class FunctionPool:
    """The warm containers of one function: reused one invocation at a time, more started under concurrency."""

    spec: FunctionSpec
    env: Mapping[str, str]
    log: LogSink
    invocations: int = 0
    idle_seconds: float | None = DEFAULT_IDLE_SECONDS  # None: never stopped while the stack runs
    clock: Callable[[], float] = time.monotonic
    _idle: list[Worker] = field(default_factory=list)
    _all: list[Worker] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _idle_since: dict[int, float] = field(default_factory=dict)  # id(worker) -> when it went idle

    def prewarm(self) -> None:
        try:
            worker = Worker(self.spec, self.env, self.log)
        except WorkerFailed as exc:  # reported again, to the caller, on the first invocation
            self.log.write(self.spec.logical_id, f"init failed: {exc.error.get('errorMessage')}")
            return
        with self._lock:
            self._all.append(worker)
            self._make_idle(worker)

    def _make_idle(self, worker: Worker) -> None:
        """Back to the idle list (the lock held); the most recently used is reused first, like Lambda, so
        the surplus of a burst stays idle and is stopped by ``stop_idle``."""
        self._idle.append(worker)
        self._idle_since[id(worker)] = self.clock()

    @property
    def workers(self) -> int:
        """Containers alive now (busy or idle)."""
        with self._lock:
            return len(self._all)

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._all]

    def stop_idle(self) -> int:
        """Stop every container idle for ``idle_seconds`` or more; how many were stopped."""
        if self.idle_seconds is None:
            return 0
        cutoff = self.clock() - self.idle_seconds
        with self._lock:
            expired = [worker for worker in self._idle if self._idle_since.get(id(worker), cutoff) <= cutoff]
            for worker in expired:
                self._idle.remove(worker)
                self._all.remove(worker)
                self._idle_since.pop(id(worker), None)
        for worker in expired:  # outside the lock: invocations go on meanwhile
            worker.close()
        return len(expired)

    def invoke(self, event: Any) -> InvokeResult:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        with self._lock:
            self.invocations += 1
            worker = self._idle.pop() if self._idle else None
            if worker is not None:
                self._idle_since.pop(id(worker), None)
        cold = worker is None
        if worker is None:
            try:
                worker = Worker(self.spec, self.env, self.log)
            except WorkerFailed as exc:
                return InvokeResult(self.spec.logical_id, error=exc.error, cold=True)
            with self._lock:
                self._all.append(worker)
        self.log.write(self.spec.logical_id, f"START RequestId: {request_id} Version: $LATEST")
        answer = worker.invoke(event, request_id)
        duration_ms = (time.perf_counter() - started) * 1000
        self.log.write(self.spec.logical_id, f"END RequestId: {request_id}")
        self.log.write(
            self.spec.logical_id,
            f"REPORT RequestId: {request_id} Duration: {duration_ms:.2f} ms{' (cold start)' if cold else ''}",
        )
        with self._lock:
            if worker.alive:
                self._make_idle(worker)
            else:
                self._all.remove(worker)
        if answer.get("ok"):
            return InvokeResult(
                self.spec.logical_id, result=answer.get("result"), cold=cold, duration_ms=duration_ms
            )
        return InvokeResult(
            self.spec.logical_id, error=answer.get("error"), cold=cold, duration_ms=duration_ms
        )

    def shut_down(self) -> None:
        """Ask every container to exit, without waiting (``close`` waits)."""
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.shut_down()

    def close(self, deadline: float | None = None) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
            self._idle_since.clear()
        deadline = deadline if deadline is not None else time.monotonic() + 0.3
        for worker in workers:  # all at once: each interpreter takes a moment to exit
            worker.shut_down()
        for worker in workers:
            worker.close(deadline)


class IdleReaper:
    """A background thread stopping the pools' containers idle for longer than their ``idle_seconds``."""

    def __init__(self, pools: Iterable[FunctionPool], interval: float) -> None:
        self._pools = list(pools)
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idle-reaper", daemon=True)

    def start(self) -> IdleReaper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            for pool in self._pools:
                pool.stop_idle()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()


def reaper_interval(idle_seconds: float) -> float:
    """How often to look: a tenth of the idle time (so a worker lives at most 10% past it), 0.05-10 s."""
    return min(10.0, max(0.05, idle_seconds / 10))
