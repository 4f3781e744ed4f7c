"""PaymentMethodsCache: a per-country TTL cache, bounded, with a stale copy for when the gateway fails."""

from __future__ import annotations

from pay1st_partner.methods import MAX_COUNTRIES, STALE_IF_ERROR_SECONDS, PaymentMethodsCache


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fresh_within_ttl_then_only_stale():
    clock = Ticker()
    cache = PaymentMethodsCache(60, clock=clock)
    cache.put("ZA", {"countryCode": "ZA"})
    assert cache.fresh("ZA") == {"countryCode": "ZA"}
    clock.now += 60
    assert cache.fresh("ZA") is None
    assert cache.stale("ZA") == {"countryCode": "ZA"}
    clock.now += STALE_IF_ERROR_SECONDS
    assert cache.stale("ZA") is None


def test_is_per_country_and_bounded():
    clock = Ticker()
    cache = PaymentMethodsCache(10_000, clock=clock)
    for index in range(MAX_COUNTRIES + 5):
        clock.now += 1
        cache.put(f"C{index}", {"n": index})
    assert cache.fresh("C0") is None  # the oldest entries made room
    assert cache.fresh(f"C{MAX_COUNTRIES + 4}") == {"n": MAX_COUNTRIES + 4}
    assert sum(cache.fresh(f"C{i}") is not None for i in range(MAX_COUNTRIES + 5)) == MAX_COUNTRIES
