"""The layer as `sam build` produces it imports on the Lambda runtime's Python (3.13), from its own bytecode.

Lambda's /opt is read-only: a layer without usable .pyc files is compiled again on every cold start.
layers/pay1st/Makefile (BuildMethod makefile) compiles every module for python3.13 as unchecked-hash .pyc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAM = REPO / ".venv" / "bin" / "sam"

# Run where Lambda would: only the layer's python/ directory on the path (Lambda's /opt/python).
CHECK = """
import sys
layer = sys.argv[1]
assert sys.version_info[:2] == (3, 13), sys.version
import pay1st.client, pay1st.webhooks, pay1st.models, pay1st.tokens
import urllib3
for module in (pay1st.client, urllib3):
    assert module.__file__.startswith(layer), module.__file__
print("ok")
"""


@pytest.mark.slow
def test_sam_built_layer_imports_with_python313(tmp_path: Path) -> None:
    env = {**os.environ, "PYENV_VERSION": "3.11.7:3.13.0", "SAM_CLI_TELEMETRY": "0"}
    build_dir = tmp_path / "build"
    build = subprocess.run(  # noqa: S603 - fixed arguments
        [str(SAM), "build", "Pay1stLayer", "--build-dir", str(build_dir), "--template", "template.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    python_dir = build_dir / "Pay1stLayer" / "python"
    assert (python_dir / "pay1st" / "__init__.py").is_file()
    assert (python_dir / "pay1st" / "aws" / "__init__.py").is_file()
    assert not (python_dir / "python").exists()

    python313 = shutil.which("python3.13")
    assert python313 is not None, (
        "python3.13 (the Lambda runtime) is needed: see the Makefile's PYENV_VERSION"
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [python313, "-c", CHECK, str(python_dir)],
        cwd=tmp_path,  # not the repo: nothing but the built layer can satisfy the imports
        env={**env, "PYTHONPATH": str(python_dir), "PYTHONNOUSERSITE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

    assert_every_module_has_unchecked_bytecode(python_dir)
    assert_the_bytecode_is_used(python313, python_dir, env, tmp_path)


def assert_every_module_has_unchecked_bytecode(python_dir: Path) -> None:
    sources = sorted(python_dir.rglob("*.py"))
    assert len(sources) > 100  # the layer's packages and their dependencies (Powertools, urllib3)
    missing, checked = [], []
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if not pyc.is_file():
            missing.append(str(source.relative_to(python_dir)))
            continue
        # PEP 552: bytes 4-8 are the flags; 0b01 = hash-based, 0b10 = check the source. Unchecked: exactly 0b01.
        if int.from_bytes(pyc.read_bytes()[4:8], "little") != 0b01:
            checked.append(str(pyc.relative_to(python_dir)))
    assert missing == [], f"{len(missing)} modules without cpython-313 bytecode: {missing[:5]}"
    assert checked == [], f"not unchecked-hash: {checked[:5]}"


def assert_the_bytecode_is_used(
    python313: str, python_dir: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """With every source of pay1st made unimportable (a fresh mtime, and a body that raises), it still imports:
    Python ran the .pyc files, as it will where a zip's mtimes differ and nothing can be written."""
    for source in (python_dir / "pay1st").rglob("*.py"):
        source.write_text(
            "raise RuntimeError('the source was compiled, not the bytecode')\n", encoding="utf-8"
        )
    python_dir.chmod(0o555)  # read-only, as /opt is: nothing new can be cached
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [
                python313,
                "-c",
                "import pay1st.client, pay1st.webhooks, pay1st.models, pay1st.tokens; print('ok')",
            ],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(python_dir), "PYTHONNOUSERSITE": "1"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        python_dir.chmod(0o755)
    assert result.returncode == 0, result.stderr[-2000:]
