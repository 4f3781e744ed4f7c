"""`make release`'s dist/: refused without bytecode, else zips, a template pointing at them, the client, checksums."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from release import dist

BUILT_TEMPLATE = """Resources:
  Pay1stLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: Pay1stLayer
  CreatePaymentFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CreatePaymentFunction
"""


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small sam build output: one function, a layer with one module and its python3.13 bytecode."""
    build = tmp_path / "build"
    (build / "CreatePaymentFunction").mkdir(parents=True)
    (build / "CreatePaymentFunction" / "app.py").write_text("x = 1\n")
    package = build / "Pay1stLayer" / "python" / "pay1st"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__pycache__" / "__init__.cpython-313.pyc").write_bytes(b"pyc")
    (build / "template.yaml").write_text(BUILT_TEMPLATE)
    monkeypatch.setattr(dist, "BUILD", build)
    monkeypatch.setattr(dist, "DIST", tmp_path / "dist")
    return build


def test_a_layer_module_without_bytecode_is_refused(build: Path) -> None:
    (build / "Pay1stLayer" / "python" / "pay1st" / "__pycache__" / "__init__.cpython-313.pyc").unlink()
    assert dist.check(dist.version()) == [
        "1 layer modules without python3.13 bytecode, e.g. ['pay1st/__init__.py']"
    ]


def test_a_missing_function_is_refused(build: Path) -> None:
    (build / "CreatePaymentFunction" / "app.py").unlink()
    (build / "CreatePaymentFunction").rmdir()
    assert dist.check(dist.version()) == ["CreatePaymentFunction is not built"]


def test_dist_holds_what_ships_with_checksums(build: Path) -> None:
    version = dist.version()
    assert dist.check(version) == []
    out = dist.write(version)
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(
        [
            "CHANGELOG-1.0.0.md",
            "CreatePaymentFunction.zip",
            "LICENSE",
            "NOTICE",
            "Pay1stLayer.zip",
            "SHA256SUMS",
            "template.yaml",
            f"pay1st-partner-client-{version}.tar.gz",
            f"pay1st_partner_client-{version}-py3-none-any.whl",
        ]
    )
    with zipfile.ZipFile(out / "Pay1stLayer.zip") as layer:
        assert "python/pay1st/__pycache__/__init__.cpython-313.pyc" in layer.namelist()
    template = (out / "template.yaml").read_text()
    assert "ContentUri: Pay1stLayer.zip" in template and "CodeUri: CreatePaymentFunction.zip" in template
    assert (out / "CHANGELOG-1.0.0.md").read_text().startswith(f"## [{version}] - ")
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    # The same build gives the same zips (fixed order and timestamps)
    first = (out / "Pay1stLayer.zip").read_bytes()
    assert dist.write(version) and (out / "Pay1stLayer.zip").read_bytes() == first
