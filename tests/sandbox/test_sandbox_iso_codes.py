"""The sandbox's own ISO country/currency data and its minor-unit check."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pay1st_sandbox.iso_codes import COUNTRIES, CURRENCY_DIGITS, decimal_places, fits_minor_unit


@pytest.mark.parametrize(
    ("number", "places"),
    [
        ("250.50", 1),
        ("250.505", 3),
        ("250.500", 1),
        ("250", 0),
        ("0.000", 0),
        ("1E+5", 0),
        ("25E-1", 1),
        ("1.00000000000000000000000000000001", 32),  # exact beyond the default 28-digit context
    ],
)
def test_decimal_places(number: str, places: int) -> None:
    assert decimal_places(Decimal(number)) == places


def test_minor_units() -> None:
    assert fits_minor_unit(Decimal("250.50"), "ZAR") and not fits_minor_unit(Decimal("250.505"), "ZAR")
    assert fits_minor_unit(Decimal("1500"), "JPY") and not fits_minor_unit(Decimal("0.5"), "JPY")
    assert fits_minor_unit(Decimal("1.234"), "KWD") and not fits_minor_unit(Decimal("1.2345"), "KWD")
    assert fits_minor_unit(Decimal("0.0001"), "CLF")


def test_the_lists_hold_assigned_codes_only() -> None:
    assert len(COUNTRIES) == 249  # ISO 3166-1 officially assigned alpha-2 codes
    assert {"ZA", "NG", "KE", "GH", "EG", "JP", "KW", "FR", "US"} <= COUNTRIES
    assert not {"QQ", "XX", "ZZ", "EU", "UK"} & COUNTRIES
    assert {"ZAR", "NGN", "KES", "GHS", "EGP", "USD", "EUR"} <= set(CURRENCY_DIGITS)
    assert not {"QQQ", "XXX", "XAU", "RAND"} & set(CURRENCY_DIGITS)


def test_the_sandbox_and_the_layer_agree_on_what_is_valid() -> None:
    # Written separately on purpose (the sandbox imports nothing from the layer); compared here, so
    # the layer never sends a code or an amount the sandbox refuses, nor the other way round.
    from pay1st import iso

    assert iso.COUNTRY_CODES == COUNTRIES
    assert iso.CURRENCY_CODES == set(CURRENCY_DIGITS)
    assert {code: iso.currency_minor_units(code) for code in CURRENCY_DIGITS} == CURRENCY_DIGITS
