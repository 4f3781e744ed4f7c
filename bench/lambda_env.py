"""A Lambda-like virtual environment for the cold-start benchmarks, built once and cached.

Lambda's python3.13 runtime provides boto3 and botocore (without awscrt); the layer adds its own runtime
requirements (``layers/pay1st/requirements.txt``: Powertools, urllib3). The dev venv has much more
(awscrt, pyOpenSSL, moto...), which boto3 picks up at import and which makes ``import boto3`` 1.5-2x heavier
than in Lambda: a cold-start ratio measured there flatters every function. This venv holds only what Lambda
would, so the baseline is honest.

The venv lives under ``.venv-bench/`` (ignored by git), named by a hash of what it was built from (the
interpreter version, the layer's requirements and the boto3/botocore pins): a changed requirement builds a
new one, an unchanged one is reused. Built with python3.13 (the Lambda runtime) when it is on PATH, else
with the running interpreter.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYER_REQUIREMENTS = REPO / "layers" / "pay1st" / "requirements.txt"
DEV_REQUIREMENTS = REPO / "requirements-dev.txt"
CACHE_DIR = REPO / ".venv-bench"
# What the Lambda runtime itself provides; the versions are the dev venv's pins (what the tests run against).
RUNTIME_PACKAGES = ("boto3", "botocore")


def _interpreter() -> str:
    """python3.13 (the Lambda runtime) if available, pyenv's included, else this interpreter."""
    env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.13.0")}
    found = shutil.which("python3.13")
    if found:
        probe = subprocess.run(  # noqa: S603 - a fixed probe of a found interpreter
            [found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, env=env
        )
        if probe.returncode == 0 and probe.stdout.strip():
            return probe.stdout.strip()
    return sys.executable


def _runtime_pins() -> list[str]:
    pins = []
    for line in DEV_REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match and match.group(1).lower() in RUNTIME_PACKAGES:
            pins.append(f"{match.group(1).lower()}=={match.group(2)}")
    return sorted(pins)


def _version(python: str) -> str:
    out = subprocess.run(  # noqa: S603 - a fixed probe of our chosen interpreter
        [python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def lambda_python() -> Path:
    """The interpreter of the Lambda-like venv, building the venv first if this key has none yet."""
    base = _interpreter()
    version = _version(base)
    pins = _runtime_pins()
    key_text = "\n".join([version, LAYER_REQUIREMENTS.read_text(encoding="utf-8"), *pins])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    venv = CACHE_DIR / f"py{version}-{key}"
    python = venv / "bin" / "python"
    if (venv / ".complete").is_file():
        return python
    print(f"building the Lambda-like venv {venv.relative_to(REPO)} (Python {version}) ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    # Fixed commands: our chosen interpreter and pip, the layer's own requirements file and fixed pins.
    subprocess.run([base, "-m", "venv", str(venv)], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(LAYER_REQUIREMENTS),
            *pins,
        ],
        check=True,
    )
    (venv / ".complete").write_text(key_text, encoding="utf-8")
    return python


if __name__ == "__main__":
    print(lambda_python())
