"""Reading CSV files as people export them (no store): encodings, delimiters, quoted
newlines, blank lines, where each record starts; dates in several formats; the mapping."""

from __future__ import annotations

import codecs
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_es.aggregates.base import InvalidInput
from crm_es.imports.csv_file import UnreadableFile, read_table
from crm_es.imports.dates import MONTH_FIRST, NotADate, parse_date, parse_datetime
from crm_es.imports.mapping import column_map

PARIS = ZoneInfo("Europe/Paris")
ACCENTS = "email;prénom;ville\r\nfrançois@example.com;François;Zürich\r\n"


@pytest.mark.parametrize(("data", "encoding"), [
    (codecs.BOM_UTF8 + ACCENTS.encode(), "utf-8-sig"),
    (ACCENTS.encode(), "utf-8"),
    (ACCENTS.encode("latin-1"), "cp1252"),  # Latin-1 bytes read as Windows-1252: the same letters
    (codecs.BOM_UTF16_LE + ACCENTS.encode("utf-16-le"), "utf-16"),
])
def test_every_usual_encoding_reads_the_same_accents(data: bytes, encoding: str) -> None:
    table = read_table(data)
    assert (table.encoding, table.delimiter) == (encoding, ";")
    assert table.header == ["email", "prénom", "ville"]
    assert table.records[0].cells == ["françois@example.com", "François", "Zürich"]


def test_windows_1252_letters_and_bytes_it_lacks() -> None:
    assert read_table("name,city\nŒuvre “Grand” €,x\n".encode("cp1252")).records[0].cells[0] == "Œuvre “Grand” €"
    assert read_table(b"name,city\n\x81\x8d,x\n").encoding == "latin-1"  # undefined in cp1252: Latin-1 reads anything


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_found(delimiter: str) -> None:
    lines = [["email", "first_name", "note"], ["a@b.example", "Ann", '"x, y; z"']]
    text = "".join(delimiter.join(cells) + "\n" for cells in lines)
    table = read_table(text.encode())
    assert table.delimiter == delimiter
    assert table.records[0].cells == ["a@b.example", "Ann", "x, y; z"]


def test_a_file_of_one_column_reads() -> None:
    assert read_table(b"email\na@b.example\n").records[0].cells == ["a@b.example"]


def test_quoted_newlines_blank_lines_and_where_each_record_starts() -> None:
    data = (b"email;note\r\n"
            b"\r\n"
            b'a@b.example;"two\r\nlines"\r\n'
            b";\r\n"
            b'c@d.example;"say ""hi"""\r\n')
    table = read_table(data)
    assert [(r.row, r.line, r.cells) for r in table.records] == [
        (3, 3, ["a@b.example", "two\nlines"]),
        (5, 6, ["c@d.example", 'say "hi"']),
    ]
    assert table.blank_lines == 2


@pytest.mark.parametrize(("data", "says"), [(b"", "empty"), (b"\n\n \n", "empty"), (b"PK\x03\x04\x00\x00", "NUL")])
def test_what_is_not_a_table_is_refused(data: bytes, says: str) -> None:
    with pytest.raises(UnreadableFile, match=says):
        read_table(data)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-01", datetime(2026, 3, 1, tzinfo=PARIS)),
    ("01/03/2026", datetime(2026, 3, 1, tzinfo=PARIS)),
    ("1.3.2026", datetime(2026, 3, 1, tzinfo=PARIS)),
    ("01-03-2026 9:30", datetime(2026, 3, 1, 9, 30, tzinfo=PARIS)),
    ("2026/03/01 09:30:15", datetime(2026, 3, 1, 9, 30, 15, tzinfo=PARIS)),
    ("2026-03-01 09:30", datetime(2026, 3, 1, 9, 30, tzinfo=PARIS)),
    ("2026-03-01T09:30:00+01:00", datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)),
    ("2026-03-01T08:30:00Z", datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)),
])
def test_dates_in_several_formats(text: str, expected: datetime) -> None:
    assert parse_datetime(text, PARIS) == expected


def test_month_first_when_told() -> None:
    assert parse_date("01/03/2026", MONTH_FIRST) == date(2026, 1, 3)
    assert parse_date("12/31/2026", MONTH_FIRST) == date(2026, 12, 31)


@pytest.mark.parametrize("text", ["31/02/2026", "01/03/26", "March 1st", "2026-13-01", "", "1/3"])
def test_what_is_not_a_date_is_refused(text: str) -> None:
    with pytest.raises(NotADate):
        parse_datetime(text, PARIS)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_every_written_form_of_a_day_reads_back_as_that_day(day: date) -> None:
    forms = [day.isoformat(), day.strftime("%d/%m/%Y"), f"{day.day}.{day.month}.{day.year}",
             day.strftime("%d-%m-%Y"), day.strftime("%Y/%m/%d")]
    assert {parse_date(form) for form in forms} == {day}
    assert parse_date(day.strftime("%m/%d/%Y"), MONTH_FIRST) == day


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
       st.integers(-14 * 60, 14 * 60))
def test_a_time_with_its_offset_reads_back_as_that_instant(instant: datetime, minutes: int) -> None:
    written = instant.astimezone(timezone(timedelta(minutes=minutes))).isoformat()
    assert parse_datetime(written, PARIS) == instant


def test_headers_named_like_properties_map_themselves_and_the_map_overrides() -> None:
    header = ["E-mail", "first_name", "Last Name", "Notes", "properties.budget", "Signed"]
    columns = column_map(header, ["E-mail=email", "Signed=properties.signed_on:date", "first_name="])
    assert columns.as_dict() == {"E-mail": "email", "Last Name": "last_name", "properties.budget": "properties.budget",
                                 "Signed": "properties.signed_on:date"}
    assert columns.ignored == ["first_name", "Notes"]
    assert column_map(header, ['{"e-mail": "email", "Notes": "job_title"}']).as_dict()["Notes"] == "job_title"


@pytest.mark.parametrize(("given_map", "says"), [
    (["Missing=email"], "no column 'Missing'"),
    (["email=nickname"], "not a contact property"),
    (["email"], "not column=property"),
    (["name=email", "email=email"], "several columns fill email"),
    (["email="], "no column is mapped to email"),
    (["email=email", "name=properties.x:money"], "unknown kind"),
    (["{not json"], "not a JSON object"),
])
def test_a_bad_mapping_is_refused_naming_map(given_map: list[str], says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        column_map(["email", "name"], given_map)
    assert refused.value.field == "map"
