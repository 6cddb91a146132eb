"""Amounts as exports write them: ``12000``, ``12000.50``, ``12,000.50``, ``12.000,50``,
``12 000,50``, ``EUR 12,000``, ``12000 USD``, ``€12,000``.

A separator followed by exactly three digits, with no other kind of separator after it,
groups thousands (``1,500`` and ``1.500`` are fifteen hundred); otherwise the last ``,``
or ``.`` is the decimal point. A currency code (or €, £) written in the cell comes back
beside the number, for a file without a currency column.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from crm_es.aggregates.money import CURRENCIES

SYMBOLS = {"€": "EUR", "£": "GBP"}
_CODE = re.compile(r"^\s*([A-Za-z]{3}|[€£])?\s*(.*?)\s*([A-Za-z]{3}|[€£])?\s*$")
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # thin and no-break spaces and apostrophes group thousands too
_GROUPED = re.compile(r"^\d{1,3}([.,])\d{3}(\1\d{3})*$")
_INTEGER_PART = re.compile(r"^-?(\d+|\d{1,3}([.,]\d{3})+)$")
_PLAIN = re.compile(r"^-?\d+(\.\d+)?$")


class NotAnAmount(ValueError):
    pass


def parse_amount(text: str) -> tuple[Decimal, str | None]:
    """The number and the currency the cell names (None if it names none)."""
    match = _CODE.match(text)
    assert match is not None  # the pattern matches any text
    before, number, after = match.groups()
    if before and after:
        raise NotAnAmount("the cell names two currencies")
    code = before or after
    if code is not None:
        code = SYMBOLS.get(code, code.upper())
        if code not in CURRENCIES:
            raise NotAnAmount(f"{text.strip()!r} is not an amount: {code} is not a currency code")
    number = _SPACES.sub("", number)
    if not number:
        raise NotAnAmount("no number in the cell")
    if _GROUPED.match(number):
        number = re.sub(r"[.,]", "", number)
    elif "," in number or "." in number:
        point = max(number.rfind(","), number.rfind("."))
        whole = number[:point]
        if whole and not _INTEGER_PART.match(whole):  # 12,5.0: which is the point?
            raise NotAnAmount(f"{text.strip()!r} is not an amount: write it like 12000.50 or 12,000.50")
        number = re.sub(r"[.,]", "", whole) + "." + number[point + 1:]
    if not _PLAIN.match(number):
        raise NotAnAmount(f"{text.strip()!r} is not an amount: write it like 12000.50 or 12,000.50")
    try:
        amount = Decimal(number)
    except InvalidOperation as error:  # pragma: no cover - _PLAIN lets only decimals through
        raise NotAnAmount(f"{text.strip()!r} is not an amount") from error
    return amount, code
