"""ISO 3166-1 alpha-2 countries and ISO 4217 currencies with their minor units, as the gateway checks them.

The sandbox's own literal data (it must not import the layer's copy, see the package docstring):
a body with a code that is shaped right but not assigned (``QQ``, ``QQQ``) or an amount finer than
the currency's minor unit (250.505 ZAR) is a 400, as it would be on the real gateway.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["COUNTRIES", "CURRENCY_DIGITS", "decimal_places", "fits_minor_unit"]

# Officially assigned alpha-2 codes, by first letter.
COUNTRIES: frozenset[str] = frozenset(
    code
    for line in """
        A: D E F G I L M O Q R S T U W X Z
        B: A B D E F G H I J L M N O Q R S T V W Y Z
        C: A C D F G H I K L M N O R U V W X Y Z
        D: E J K M O Z
        E: C E G H R S T
        F: I J K M O R
        G: A B D E F G H I L M N P Q R S T U W Y
        H: K M N R T U
        I: D E L M N O Q R S T
        J: E M O P
        K: E G H I M N P R W Y Z
        L: A B C I K R S T U V Y
        M: A C D E F G H K L M N O P Q R S T U V W X Y Z
        N: A C E F G I L O P R U Z
        O: M
        P: A E F G H K L M N R S T W Y
        Q: A
        R: E O S U W
        S: A B C D E G H I J K L M N O R S T V X Y Z
        T: C D F G H J K L M N O R T V W Z
        U: A G M S Y Z
        V: A C E G I N U
        W: F S
        Y: E T
        Z: A M W
    """.strip().splitlines()
    for first, seconds in [line.split(":")]
    for code in (first.strip() + second for second in seconds.split())
)

# Active currency codes → digits after the decimal point.
CURRENCY_DIGITS: dict[str, int] = {
    **{
        code: 2
        for code in """
            AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN
            BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP
            GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK
            LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK
            NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
            SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG
            YER ZAR ZMW ZWG ZWL
        """.split()
    },
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


def decimal_places(number: Decimal) -> int:
    """Significant digits after the point: 250.50 → 1, 250.505 → 3, 250 → 0 (exact: no rounding context)."""
    _, digits, exponent = number.as_tuple()
    significant = "".join(map(str, digits)).rstrip("0")
    if not significant or not isinstance(exponent, int) or exponent >= 0:
        return 0  # zero, or a whole number written with a positive exponent
    return max(0, -exponent - (len(digits) - len(significant)))


def fits_minor_unit(number: Decimal, currency: str) -> bool:
    return decimal_places(number) <= CURRENCY_DIGITS[currency]
