"""A payment's currency must be one its country pays in: USD for a South African payment is refused 400.

Pay1st's payment methods list (contract §6) is the first word: when a country's channel entries name their
currency (``currencyCode`` on the entry, its ``channel`` or ``paymentOption``), those are the currencies
the country takes. The fields §6 documents carry none, so otherwise the country's own currency (ISO 4217,
``LOCAL_CURRENCIES``, Pay1st's markets) decides.

The check never waits on the list: a create reads it from the container's cache only (it is fetched when a
``channelId`` is checked or ``GET /payment-methods`` is called), so an unreachable gateway never turns a
good order into a 502, and a create costs no extra gateway call. No cached list: the table decides. A
country in neither is passed to Pay1st, which refuses what it does not take (422 ``gateway_rejected``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pay1st_partner.errors import InvalidRequest

if TYPE_CHECKING:
    from pay1st_partner.payments.methods import PaymentMethodsCache

# ISO 4217 currency of each market Pay1st serves (the sandbox's countries and their neighbours).
LOCAL_CURRENCIES: Mapping[str, str] = {
    "BW": "BWP", "CI": "XOF", "CM": "XAF", "EG": "EGP", "ET": "ETB", "GH": "GHS", "KE": "KES", "MA": "MAD",
    "MZ": "MZN", "NA": "NAD", "NG": "NGN", "RW": "RWF", "SN": "XOF", "TZ": "TZS", "UG": "UGX", "ZA": "ZAR",
    "ZM": "ZMW",
}  # fmt: skip


def listed_currencies(body: Mapping[str, Any]) -> frozenset[str]:
    """The currencies a cached payment methods body names for its country (empty: it names none)."""
    found: set[str] = set()
    for group in body.get("groups", ()):
        for entry in group.get("channels", ()) if isinstance(group, Mapping) else ():
            found.update(_currencies(entry, entry.get("channel"), entry.get("paymentOption")))
    return frozenset(found)


def _currencies(*parts: Any) -> Iterable[str]:
    for part in parts:
        if isinstance(part, Mapping) and isinstance(part.get("currencyCode"), str):
            yield part["currencyCode"].upper()


def require_currency_fits(country_code: str, currency_code: str, cache: PaymentMethodsCache | None) -> None:
    """400 ``currency_mismatch`` when ``currency_code`` is not one ``country_code`` pays in (module docstring)."""
    cached = cache.stale(country_code) if cache is not None else None
    accepted = listed_currencies(cached) if cached is not None else frozenset()
    if not accepted and country_code in LOCAL_CURRENCIES:
        accepted = frozenset({LOCAL_CURRENCIES[country_code]})
    if accepted and currency_code not in accepted:
        raise InvalidRequest(
            f"currencyCode: {currency_code} is not a currency {country_code} pays in; use "
            f"{' or '.join(sorted(accepted))} (amount and products in that currency).",
            code="currency_mismatch",
        )
