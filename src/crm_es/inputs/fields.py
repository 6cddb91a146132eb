"""The types of the fields callers send, and ``Body``, the base of every request body."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from crm_es.aggregates.money import CURRENCIES, amount_problem


def _amount(value: Decimal) -> Decimal:
    problem = amount_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


# What API.md promises and nothing more: pydantic alone would also take a number as seconds
# since 1970 (1700000000, or "-1094" in a query) and, for a date, a midnight timestamp.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_instant(value: Any) -> Any:
    if isinstance(value, datetime):  # from Python (an import, a test), not from the wire
        return value
    if not (isinstance(value, str) and _INSTANT.fullmatch(value)):
        raise ValueError("an ISO 8601 time with its offset, like 2026-03-01T09:30:00+01:00 or 2026-03-01T08:30:00Z")
    return value


def _iso_day(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not (isinstance(value, str) and _DAY.fullmatch(value)):
        raise ValueError("an ISO 8601 date, like 2026-03-01")
    return value


# Every time a request carries, in a body or a query: a string, with an offset (OpenAPI:
# string, format date-time); a naive time, a number or a date alone is a 422 naming it.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]
# Every calendar date a request carries: YYYY-MM-DD only (OpenAPI: string, format date).
IsoDate = Annotated[date, BeforeValidator(_iso_day)]

Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
# Not \s alone: ECMA-262 (the document's regex dialect) counts U+FEFF as a space and the
# server's (pydantic's Rust engine) counts U+0085, so a client and the server would
# disagree on an address holding one. Both are named: both sides refuse them.
_NOT_AT_OR_SPACE = r"[^@\s\x85\ufeff]"
Email = Annotated[str, Field(max_length=320, pattern=f"^{_NOT_AT_OR_SPACE}+@{_NOT_AT_OR_SPACE}+\\.{_NOT_AT_OR_SPACE}+$")]
Amount = Annotated[Decimal, AfterValidator(_amount)]
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
Probability = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
Properties = Annotated[dict[str, Any], Field(max_length=200)]


class Body(BaseModel):
    # An unknown field is refused (422 naming it) rather than silently dropped: a
    # misspelt "ammount" must not look like success.
    model_config = ConfigDict(extra="forbid")
