"""How the API writes money: a decimal string at the currency's ISO 4217 scale."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_es.aggregates.money import CURRENCIES, MINOR_UNITS, minor_units, money_text


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("114445.0000", "EUR", "114445.00"),  # the read side's DECIMAL(20, 4), at the euro's 2 places
        ("0", "EUR", "0.00"),
        ("1E+3", "JPY", "1000"),  # the yen has no minor unit
        ("1255", "JPY", "1255"),
        ("5.25", "KWD", "5.250"),  # the Kuwaiti dinar has 3
        ("0.0005", "BHD", "0.000"),  # half to even: down to the even 0
        ("0.0015", "BHD", "0.002"),  # and up to the even 2
        ("125.5", "JPY", "126"),
        ("9999999999999999.9999", "USD", "10000000000000000.00"),  # the largest amount held, rounded
        ("-0.001", "EUR", "0.00"),  # never "-0.00"
        ("12.5", None, "12.50"),  # no currency (an empty board): 2 places
    ],
)
def test_an_amount_is_written_at_its_currencys_scale(amount: str, currency: str | None, text: str) -> None:
    assert money_text(Decimal(amount), currency) == text


def test_the_minor_units_follow_iso_4217_for_the_currencies_accepted() -> None:
    assert (minor_units("EUR"), minor_units("USD"), minor_units("JPY"), minor_units("KRW"), minor_units("KWD"),
            minor_units("TND")) == (2, 2, 0, 0, 3, 3)
    assert set(MINOR_UNITS) <= CURRENCIES  # a scale is given only for a code the edge accepts


def test_money_is_never_a_float() -> None:
    with pytest.raises(TypeError):
        money_text(0.1, "EUR")  # type: ignore[arg-type]
    assert money_text("2500.5", "EUR") == "2500.50" and money_text(7, "JPY") == "7"
