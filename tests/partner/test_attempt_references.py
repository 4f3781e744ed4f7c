"""The derived attempt references (README "Attempts"): in the alphabet, at most 64 characters, unique."""

from __future__ import annotations

import pytest
from pay1st_partner.errors import InvalidRequest
from pay1st_partner.payments.create_request import parse_create_request
from pay1st_partner.references import (
    MAX_ATTEMPTS,
    attempt_reference,
    is_attempt_reference,
    is_partner_reference,
)

from tests.functions.outbound import create_body


@pytest.mark.parametrize("base", ["order-1001", "a", "x.", "a" * 61, "a" * 62, "b" * 64, "Z9:_-." * 10])
def test_every_derived_reference_is_a_valid_reserved_reference(base: str) -> None:
    made = {attempt_reference(base, n) for n in range(2, MAX_ATTEMPTS + 1)}
    assert len(made) == MAX_ATTEMPTS - 1
    for reference in made:
        assert is_partner_reference(reference) and len(reference) <= 64
        assert is_attempt_reference(reference)
    assert not is_attempt_reference(base)


def test_short_references_read_as_they_are_and_long_ones_keep_a_digest_of_the_whole() -> None:
    assert attempt_reference("order-1001", 2) == "order-1001..2"
    # Two maximal references differing only at the end: cut alike, told apart by the digest
    first, second = attempt_reference("c" * 63 + "1", 2), attempt_reference("c" * 63 + "2", 2)
    assert first[:50] == second[:50] and first != second and len(first) == len(second) == 64


@pytest.mark.parametrize("reserved", ["order-1..2", "order-1..9", "x..2." + "0" * 12])
def test_a_partner_reference_in_the_reserved_form_is_refused_at_create(reserved: str) -> None:
    import json
    from decimal import Decimal

    with pytest.raises(InvalidRequest, match="reserved for new attempts"):
        parse_create_request(json.loads(create_body(reserved), parse_float=Decimal))


@pytest.mark.parametrize("allowed", ["order-1..1", "order-1..10", "order..2x", "v1.2"])
def test_near_misses_stay_valid_partner_references(allowed: str) -> None:
    import json
    from decimal import Decimal

    assert (
        parse_create_request(json.loads(create_body(allowed), parse_float=Decimal)).partner_reference
        == allowed
    )


def test_attempt_numbers_are_bounded() -> None:
    with pytest.raises(ValueError, match="attempt numbers"):
        attempt_reference("order-1", MAX_ATTEMPTS + 1)
    with pytest.raises(ValueError, match="attempt numbers"):
        attempt_reference("order-1", 1)
