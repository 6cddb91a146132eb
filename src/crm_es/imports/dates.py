"""Dates as other tools write them: ISO 8601 (2026-03-01, 2026-03-01T09:30:00+01:00,
2026-03-01 09:30, …Z), day first with `/`, `.` or `-` (01/03/2026, 1.3.2026, 01-03-2026),
year first with `/` or `.` (2026/03/01), each with an optional time (HH:MM[:SS]).

Day-first or month-first cannot be told from "01/03/2026": the import is told
(``date_order``, day first by default, as written in most of Europe). A time without an
offset is taken in the import's time zone. Two-digit years are refused, not guessed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_es.aggregates.base import InvalidInput

DAY_FIRST, MONTH_FIRST = "dmy", "mdy"
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)

_TIME = r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
_PART_FIRST = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{2,4})" + _TIME + "$")  # 01/03/2026, 1.3.2026
_YEAR_FIRST = re.compile(r"^(\d{4})([./])(\d{1,2})\2(\d{1,2})" + _TIME + "$")  # 2026/03/01

FORMATS_HINT = "write it like 2026-03-01, 01/03/2026, 1.3.2026 or 2026-03-01T09:30:00+01:00"


class NotADate(ValueError):
    pass


def parse_datetime(text: str, zone: tzinfo, order: str = DAY_FIRST) -> datetime:
    """An aware time: the offset written, else the wall time in ``zone`` (midnight for a date)."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _other_formats(text, order)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def parse_date(text: str, order: str = DAY_FIRST) -> date:
    """A calendar day; a time written after it is dropped (the day is as written)."""
    text = text.strip()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        return _other_formats(text, order).date()


def _other_formats(text: str, order: str) -> datetime:
    if match := _YEAR_FIRST.match(text):
        year, _, month, day, *clock = match.groups()
    elif match := _PART_FIRST.match(text):
        first, _, second, year, *clock = match.groups()
        day, month = (first, second) if order == DAY_FIRST else (second, first)
        if len(year) != 4:
            raise NotADate("the year must have four digits (is 01/03/26 in 1926 or 2026?)")
    else:
        raise NotADate(f"not a date or time we can read: {FORMATS_HINT}")
    hour, minute, second_ = (int(part) if part else 0 for part in clock)
    try:
        return datetime.combine(date(int(year), int(month), int(day)), time(hour, minute, second_))
    except ValueError as error:  # 31/02/2026, 25:00
        raise NotADate(f"not a real date or time ({error})") from error


def time_options(timezone: str, date_order: str) -> ZoneInfo:
    """The zone of the times a file writes without an offset, once both options of an
    import are checked; InvalidInput naming ``timezone`` or ``date_order`` otherwise."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput("timezone", f"{timezone!r} is not a time zone name like Europe/Paris or UTC") from error
    if date_order not in DATE_ORDERS:
        raise InvalidInput("date_order", f"date_order is {' or '.join(DATE_ORDERS)} (day or month first in 01/03/2026)")
    return zone
