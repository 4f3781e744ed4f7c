"""The contract's two signature vectors (§4), timestamps, exact decimals, and independence from the layer."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pay1st_sandbox
import pytest
from pay1st_sandbox import jsonutil
from pay1st_sandbox.signing import format_timestamp, parse_timestamp, sign, signature_matches
from sandbox_kit import SIGNING_KEY, hmac_hex

VECTOR_1 = (
    "2026-01-15T10:30:00.000Z",
    b'{"countryCode":"ZA","currencyCode":"ZAR","amount":250.50,"partnerReference":"order-1001",'
    b'"products":[{"title":"500 Gems","sku":"GEM-500","price":250.50,"quantity":1,"currencyCode":"ZAR"}],'
    b'"metadata":[{"key":"playerId","value":"p-42"}]}',
    "8fa27e2c2f7ba876e4958053ad0cca2307eb29f03a714e2994e165b67c2ca69b",
)
VECTOR_2 = (
    "2026-01-15T10:35:01Z",
    b'{"reference":"C-113976984708914-P","products":[{"sku":"GEM-500","fulfilmentStatus":"FULFILLED",'
    b'"quantity":1,"fulfilmentTime":"2026-01-15T10:35:00Z"}]}',
    "e7b39bda25a9c339946ce22fcf73e55f0ef123d26656390933c488d17afa5e5f",
)


@pytest.mark.parametrize(
    ("timestamp", "body", "expected"), [VECTOR_1, VECTOR_2], ids=["create", "fulfilment"]
)
def test_contract_vectors(timestamp: str, body: bytes, expected: str) -> None:
    assert sign(SIGNING_KEY, timestamp, body) == expected
    assert signature_matches(SIGNING_KEY, timestamp, body, expected)
    # The tests' own HMAC agrees, so request-signing tests do not lean on the code under test.
    assert hmac_hex(SIGNING_KEY, timestamp, body) == expected


def test_signature_rejects_changes_and_other_forms() -> None:
    timestamp, body, expected = VECTOR_1
    assert not signature_matches(SIGNING_KEY, timestamp, body.replace(b"250.50", b"250.5"), expected)
    assert not signature_matches(SIGNING_KEY, "2026-01-15T10:30:00Z", body, expected)
    assert not signature_matches("another-key", timestamp, body, expected)
    assert not signature_matches(SIGNING_KEY, timestamp, body, expected.upper())
    # The "payload as key" reading of the public page does not verify.
    assert sign(body.decode(), timestamp, SIGNING_KEY.encode()) != expected


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-01-15T10:30:00.000Z", "2026-01-15T10:30:00+00:00"),
        ("2026-01-15T10:35:01Z", "2026-01-15T10:35:01+00:00"),
        ("2026-01-15T12:35:01.5+02:00", "2026-01-15T10:35:01.500000+00:00"),
        ("2026-01-15T10:35:01.123456789Z", "2026-01-15T10:35:01.123456+00:00"),
    ],
)
def test_parse_timestamp(text: str, iso: str) -> None:
    assert parse_timestamp(text) == datetime.fromisoformat(iso)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "2026-01-15 10:30:00Z", "2026-01-15T10:30:00", "2026-13-15T10:30:00Z", "1736937000"],
)
def test_malformed_timestamps(text: str) -> None:
    assert parse_timestamp(text) is None


def test_format_timestamp_is_millis_utc_z() -> None:
    assert format_timestamp(1768473000.0) == "2026-01-15T10:30:00.000Z"
    assert format_timestamp(1768473000.25) == "2026-01-15T10:30:00.250Z"


def test_json_keeps_decimal_digits() -> None:
    raw = b'{"amount":250.50,"price":0.10,"quantity":1,"big":12345678901234567890.123}'
    document = jsonutil.loads(raw)
    assert document["amount"] == Decimal("250.50") and isinstance(document["quantity"], int)
    assert jsonutil.dumps(document) == raw
    with pytest.raises(ValueError):
        jsonutil.loads(b'{"amount": NaN}')


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _is_layer(module: str) -> bool:
    return module.split(".")[0] in {"pay1st", "pay1st_partner"}


def test_package_source_imports_nothing_from_the_layer() -> None:
    package_dir = Path(pay1st_sandbox.__file__).parent
    sources = sorted(package_dir.glob("*.py"))
    assert len(sources) > 10
    for source in sources:
        assert not [m for m in _imported_modules(source) if _is_layer(m)], source


def test_importing_the_sandbox_loads_no_layer_module() -> None:
    root = Path(pay1st_sandbox.__file__).parents[2]
    # The layer is importable in that interpreter, so any import of it would succeed and be seen.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "local"), str(root / "layers" / "pay1st")]),
    }
    code = (
        "import sys, pay1st_sandbox, pay1st_sandbox.__main__, pay1st_sandbox.server\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pay1st', 'pay1st_partner')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a literal script
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
