"""Money is a Decimal and an ISO 4217 code; nothing is ever a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

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


# ISO 4217 minor units (digits after the decimal point) of the active codes above that have
# other than 2; every other code has 2. (CLF, 4, and the other fund codes are not accepted.)
MINOR_UNITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}
DEFAULT_MINOR_UNITS = 2
_WIDE = Context(prec=60)  # room for any sum of DECIMAL(20, 4) amounts: quantize never overflows


def minor_units(currency: str | None) -> int:
    """How many decimals the currency's amounts are shown with (2 when it is not known)."""
    return MINOR_UNITS.get(currency or "", DEFAULT_MINOR_UNITS)


def money_text(amount: Decimal | int | str, currency: str | None) -> str:
    """An amount as the API answers money: a decimal string at the currency's scale
    ("114445.00" EUR, "1200" JPY, "5.250" KWD), rounded half to even (what the decimal
    module does by default: no bias up or down over many figures). Never a float."""
    if isinstance(amount, float):
        raise TypeError("money is never a float")
    value = Decimal(amount).quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_EVEN, context=_WIDE)
    return str(value.copy_abs() if value.is_zero() else value)  # never "-0.00"


def scale_problem(amount: Decimal, currency: str) -> str | None:
    """Why this amount cannot be an amount of this currency (finer than its minor unit:
    1000.5 JPY would be shown, summed and exported as 1000), or None when it can."""
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    units = minor_units(currency)
    if -exponent > units:
        return f"{currency} amounts have {units} decimal place(s) at most" if units else f"{currency} amounts are whole numbers"
    return None
