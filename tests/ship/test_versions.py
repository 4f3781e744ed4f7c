"""One version for the bundle: the template's SemanticVersion, the layer's, the client's (and what it sends),
the bundle's pyproject and the newest release of CHANGELOG.md; and the licence everywhere it is declared."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pay1st
import pay1st_partner_client
from local_stack.template import load_template
from pay1st_partner_client import client as client_module

from release.changelog import releases, section, upgrading

ROOT = Path(__file__).resolve().parents[2]
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def sar_metadata() -> dict[str, str]:
    return dict(load_template(ROOT / "template.yaml")["Metadata"]["AWS::ServerlessRepo::Application"])


def test_every_copy_of_the_version_is_the_templates() -> None:
    # Given the version the Serverless Application Repository would publish
    version = sar_metadata()["SemanticVersion"]
    assert SEMVER.match(version), version
    # Then the layer, the client, the bundle's metadata and the changelog's newest release all say it
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert {
        "pay1st.__version__": pay1st.__version__,
        "pay1st_partner_client.__version__": pay1st_partner_client.__version__,
        "pyproject.toml": tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
            "version"
        ],
        "CHANGELOG.md": releases(changelog)[0],
    } == dict.fromkeys(
        ["pay1st.__version__", "pay1st_partner_client.__version__", "pyproject.toml", "CHANGELOG.md"], version
    )


def test_the_client_reads_its_version_and_sends_it() -> None:
    pyproject = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "pay1st_partner_client._version.__version__"
    }
    assert client_module.USER_AGENT.startswith(f"pay1st-partner-client/{pay1st_partner_client.__version__} ")


def test_every_release_has_an_upgrading_part() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for version in releases(changelog):
        assert upgrading(changelog, version).strip(), (
            f"{version} says nothing about upgrading a deployed stack"
        )
        assert f"[{version}]: " in changelog, f"{version} has no link reference"
    assert section(changelog, releases(changelog)[0]).startswith(f"## [{releases(changelog)[0]}] - ")


def test_apache_2_everywhere_it_is_declared() -> None:
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence  # the full text, not a pointer to it
    assert (ROOT / "clients/python/LICENSE").read_text(
        encoding="utf-8"
    ) == licence  # ships in the sdist/wheel
    metadata = sar_metadata()
    assert metadata["SpdxLicenseId"] == "Apache-2.0"
    assert (ROOT / metadata["LicenseUrl"]).is_file() and (ROOT / metadata["ReadmeUrl"]).is_file()
    for pyproject in ("pyproject.toml", "clients/python/pyproject.toml"):
        project = tomllib.loads((ROOT / pyproject).read_text(encoding="utf-8"))["project"]
        assert project["license"] == {"text": "Apache-2.0"}, pyproject


def test_the_serverless_repo_metadata_is_complete() -> None:
    metadata = sar_metadata()
    for key in (
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "LicenseUrl",
        "ReadmeUrl",
        "SemanticVersion",
        "SourceCodeUrl",
    ):
        assert metadata.get(key), key
    # SAR's own patterns: Author lower-case letters, digits and single hyphens; Name letters, digits, hyphens
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]", metadata["Author"])
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,140}", metadata["Name"])
    assert len(metadata["Description"]) <= 256
