"""Money is a Decimal and an ISO 4217 code; nothing is ever a float."""

from __future__ import annotations

from decimal import Decimal

# ISO 4217 active codes (2024 list), so an unknown currency is caught at the edge.
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK
    JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN
    SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST
    XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()
)

# The read side stores DECIMAL(20, 4): the edge refuses what it could not hold exactly.
MAX_SCALE = 4
MAX_DIGITS = 20


def amount_problem(amount: Decimal) -> str | None:
    """Why this amount cannot be accepted, or None when it can."""
    if not amount.is_finite():
        return "amount must be a finite number"
    if amount < 0:
        return "amount must not be negative"
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_SCALE:
        return f"amount has more than {MAX_SCALE} decimal places"
    if amount.adjusted() >= MAX_DIGITS - MAX_SCALE:
        return "amount is too large"
    return None
