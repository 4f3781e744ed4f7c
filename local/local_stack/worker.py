"""One warm "Lambda container": imports a handler once, then serves invocations as JSON lines.

Run as a script (``python -P worker.py``), never imported by the function: its environment and ``sys.path`` are
exactly what the runner gives it (the function's code directory, then its layers), like Lambda's. It imports
nothing from the local stack for that reason.

Protocol: the runner writes one JSON object per line to stdin (``{"event", "requestId", "deadlineMs"}``); the
worker answers one line on the protocol pipe (``{"ok": true, "result": ...}`` or
``{"ok": false, "error": {"errorType", "errorMessage", "stackTrace"}}``). Whatever the function prints (Powertools
logs and metrics go to stdout) is sent to stderr, which the runner collects as the function's log, so it can
never corrupt the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of Lambda's context object that handlers use."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'eu-west-1')}:123456789012:function:{self.function_name}"
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def _lambda_import_path() -> None:
    """Keep on ``sys.path`` only what Lambda would have: PYTHONPATH (the code, the layers) and the interpreter's
    own library and site-packages. An editable install's ``.pth`` (the partner client) would add a project
    folder; the function must not see it."""
    given = {os.path.realpath(entry) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry}
    roots = {
        os.path.realpath(root)
        for root in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    }

    def kept(entry: str) -> bool:
        real = os.path.realpath(entry)
        return real in given or any(real == root or real.startswith(root + os.sep) for root in roots)

    sys.path[:] = [entry for entry in sys.path if kept(entry)]
    # botocore loads awscrt and pyOpenSSL whenever they are installed; the development venv has both (for
    # aws-sam-cli), Lambda's runtime neither. Hidden here, as absent there: boto3's first client costs about
    # 0.4 s of CPU instead of 0.55-0.75 in every container.
    for absent_in_lambda in ("awscrt", "OpenSSL"):
        sys.modules[absent_in_lambda] = None  # type: ignore[assignment]


def main() -> None:
    _lambda_import_path()
    # The protocol gets the original stdout; the function's own stdout goes to stderr (its log).
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    try:  # the init phase: import once per container, like Lambda
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # noqa: BLE001 - reported to the runner as Runtime.ImportModuleError
        protocol.write(json.dumps({"ready": False, "error": _error(exc)}) + "\n")
        return
    protocol.write(json.dumps({"ready": True}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["requestId"], request["deadlineMs"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:  # noqa: BLE001 - Lambda reports any handler exception as the invocation's error
            answer = json.dumps({"ok": False, "error": _error(exc)})
        else:
            try:
                answer = json.dumps({"ok": True, "result": result})
            except (TypeError, ValueError) as exc:  # what Lambda calls a marshal error
                answer = json.dumps(
                    {"ok": False, "error": {**_error(exc), "errorType": "Runtime.MarshalError"}}
                )
        sys.stderr.flush()
        protocol.write(answer + "\n")


if __name__ == "__main__":
    main()
