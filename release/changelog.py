"""CHANGELOG.md (Keep a Changelog): the releases it lists, one release's section, and its Upgrading part."""

from __future__ import annotations

import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"
_RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$", re.MULTILINE)


def releases(text: str) -> list[str]:
    """The released versions, newest first ([Unreleased] left out)."""
    return [m["version"] for m in _RELEASE.finditer(text) if m["version"] != "Unreleased"]


def section(text: str, version: str) -> str:
    """The release's section, its heading included, up to the next release (or the link references)."""
    matches = list(_RELEASE.finditer(text))
    for index, match in enumerate(matches):
        if match["version"] == version:
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            body = text[match.start() : end]
            return re.split(r"^\[[^\]]+\]: ", body, maxsplit=1, flags=re.MULTILINE)[0].rstrip() + "\n"
    raise KeyError(f"CHANGELOG.md has no section for {version}")


def upgrading(text: str, version: str) -> str:
    """The release's "### Upgrading" part ("" when it has none)."""
    parts = re.split(r"^### ", section(text, version), flags=re.MULTILINE)
    return next((part.partition("\n")[2] for part in parts if part.startswith("Upgrading")), "")


if __name__ == "__main__":  # python -m release.changelog VERSION: print that release's section
    sys.stdout.write(section(CHANGELOG.read_text(encoding="utf-8"), sys.argv[1]))
