"""``make release``: check ``sam build``'s output and write ``dist/<name>-<version>/``, offline.

What it writes, beside ``SHA256SUMS`` of every file:

- ``Pay1stLayer.zip`` and one ``<Function>.zip`` per function: the built folders (``.aws-sam/build``), zipped
  in a fixed order with fixed timestamps, so the same build gives the same bytes;
- ``template.yaml``: the built template with each ``CodeUri``/``ContentUri`` pointing at its zip, so
  ``sam deploy --template-file dist/.../template.yaml`` deploys exactly these files (it uploads them);
- the client's wheel and sdist, built with the venv's setuptools and no network (PEP 517 hooks in a
  copy of ``clients/python``, so the checkout is left clean);
- ``CHANGELOG-<version>.md``: the release's section of CHANGELOG.md.

It refuses (exit 1) when the build is missing a function, a layer module lacks its python3.13 bytecode, the
versions differ or the changelog has no section for the version.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from release.changelog import CHANGELOG, releases, section

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
DIST = ROOT / "dist"
NAME = "pay1st-partner-bundle"
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the bytes depend on the files only (the .pyc files check no mtime)
_URI = re.compile(r"^(?P<indent>\s+)(?P<key>CodeUri|ContentUri): (?P<dir>[A-Za-z0-9]+)\s*$", re.MULTILINE)


def version() -> str:
    text = (ROOT / "layers/pay1st/pay1st/__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("no __version__ in layers/pay1st/pay1st/__init__.py")
    return match.group(1)


def check(version: str) -> list[str]:
    """What is wrong with the build and the release notes (empty: ready)."""
    problems = []
    template = ROOT / "template.yaml"
    if f"SemanticVersion: {version}\n" not in template.read_text(encoding="utf-8"):
        problems.append(f"template.yaml's SemanticVersion is not {version}")
    changelog = CHANGELOG.read_text(encoding="utf-8")
    if not releases(changelog) or releases(changelog)[0] != version:
        problems.append(f"CHANGELOG.md's newest release is not {version}")
    built = BUILD / "template.yaml"
    if not built.is_file():
        return [*problems, "no .aws-sam/build: run `make build`"]
    for match in _URI.finditer(built.read_text(encoding="utf-8")):
        if not (BUILD / match["dir"]).is_dir():
            problems.append(f"{match['dir']} is not built")
    layer = BUILD / "Pay1stLayer" / "python"
    missing = [
        str(source.relative_to(layer))
        for source in layer.rglob("*.py")
        if not (source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc").is_file()
    ]
    if missing:
        problems.append(f"{len(missing)} layer modules without python3.13 bytecode, e.g. {missing[:3]}")
    return problems


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(folder)), _ZIP_TIME)
            info.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def _client(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="pay1st-client-") as scratch:
        copy = Path(scratch) / "client"
        shutil.copytree(ROOT / "clients/python", copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        # The venv's own interpreter and setuptools, fixed hook calls: nothing is downloaded. One process per
        # hook: setuptools 65 keeps state between them (a wheel built after an sdist lands in ./sdist).
        for hook in ("build_sdist", "build_wheel"):
            call = f"import sys; from setuptools import build_meta; build_meta.{hook}(sys.argv[1])"
            subprocess.run([sys.executable, "-c", call, str(out)], cwd=copy, check=True, capture_output=True)  # noqa: S603


def write(version: str) -> Path:
    out = DIST / f"{NAME}-{version}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    template = (BUILD / "template.yaml").read_text(encoding="utf-8")
    for folder in sorted({match["dir"] for match in _URI.finditer(template)}):
        _zip(BUILD / folder, out / f"{folder}.zip")
    (out / "template.yaml").write_text(
        _URI.sub(lambda m: f"{m['indent']}{m['key']}: {m['dir']}.zip", template), encoding="utf-8"
    )
    _client(out)
    (out / f"CHANGELOG-{version}.md").write_text(
        section(CHANGELOG.read_text(encoding="utf-8"), version), "utf-8"
    )
    for name in ("LICENSE", "NOTICE"):
        shutil.copy2(ROOT / name, out / name)
    sums = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
        for path in sorted(out.iterdir())
        if path.is_file()
    ]
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    return out


def main() -> int:
    current = version()
    problems = check(current)
    if problems:
        print("not released:", *problems, sep="\n  ")
        return 1
    out = write(current)
    print(f"{NAME} {current}: {out.relative_to(ROOT)}/")
    for path in sorted(out.iterdir()):
        print(f"  {path.name:<52} {path.stat().st_size:>10,} bytes")
    print(f"verify: (cd {out.relative_to(ROOT)} && sha256sum -c SHA256SUMS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
