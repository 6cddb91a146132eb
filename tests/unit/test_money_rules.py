"""What amount the edge accepts: exactly what the read side's DECIMAL(20, 4) can hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_es.aggregates.money import CURRENCIES, amount_problem


@pytest.mark.parametrize("amount", ["0", "1234.5600", "0.0001", "9999999999999999.9999", "1E+3"])
def test_an_amount_the_read_side_can_hold_is_accepted(amount: str) -> None:
    assert amount_problem(Decimal(amount)) is None


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("-0.01", "amount must not be negative"),
        ("0.00001", "amount has more than 4 decimal places"),
        ("10000000000000000", "amount is too large"),
        ("NaN", "amount must be a finite number"),
        ("Infinity", "amount must be a finite number"),
    ],
)
def test_an_amount_the_read_side_cannot_hold_is_refused_with_the_reason(amount: str, problem: str) -> None:
    assert amount_problem(Decimal(amount)) == problem


def test_currencies_are_iso_4217_codes() -> None:
    assert {"EUR", "USD", "JPY", "CHF"} <= CURRENCIES
    assert "XXX" not in CURRENCIES and "eur" not in CURRENCIES
