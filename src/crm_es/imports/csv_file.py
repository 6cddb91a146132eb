"""Reading a CSV file as people export them: any common encoding, `,` `;` tab or `|`
between cells, quoted cells holding newlines, blank lines here and there.

The standard library's `csv` module does the parsing (quotes, doubled quotes, newlines
inside quotes) and its `Sniffer` finds the delimiter. DuckDB's `read_csv` sniffer was
the other candidate; it was not chosen because it types the columns itself (a phone
number "0612…" becomes an integer, a date column is guessed day- or month-first for the
whole file), it cannot say on which line of the file a record starts, and it wants a
file on disk. Here every cell stays text until the import's mapping decides what it is,
and every record keeps its place in the file for the report.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

DELIMITERS = ",;\t|"
SNIFF_CHARS = 64_000  # enough lines for the sniffer; it is slow on large samples


class UnreadableFile(ValueError):
    """The file is not a table we can read (no header, or not text)."""


@dataclass(frozen=True)
class Record:
    row: int  # the row as a spreadsheet numbers it: the header is row 1
    line: int  # the line of the file where the record starts (a quoted newline spans lines)
    cells: list[str]


@dataclass(frozen=True)
class Table:
    encoding: str
    delimiter: str
    header: list[str]
    records: list[Record]
    blank_lines: int  # lines (or records of empty cells only) that were skipped


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-16 or UTF-8 when a byte-order mark says
    so, UTF-8 when the bytes are valid UTF-8, else Windows-1252 (what Excel writes on
    Western European machines; a superset of Latin-1's printable characters), else Latin-1,
    which every byte sequence is."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig"
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def delimiter_of(text: str) -> str:
    """The sniffer's delimiter among the usual ones; when it cannot tell (one column, or
    too few lines), the one the header line uses most (a comma if none)."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = next((line for line in text.splitlines() if line.strip()), "")
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def read_table(data: bytes) -> Table:
    if b"\x00" in data and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile("the file holds NUL bytes: it is not a text CSV file (an .xlsx? export it as CSV)")
    text, encoding = decode(data)
    delimiter = delimiter_of(text)
    # newline="": lines end at \n, \r\n or \r only, as the csv module wants.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True)
    header: list[str] | None = None
    records, blank, line_before = [], 0, 0
    try:
        for row, cells in enumerate(reader, start=1):
            starts, line_before = line_before + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                blank += 1
            elif header is None:
                header = [cell.strip() for cell in cells]
            else:  # a quoted newline reads as \n, whichever line ends the file has
                records.append(Record(row, starts, [c.replace("\r\n", "\n").replace("\r", "\n") for c in cells]))
    except csv.Error as error:  # a cell over the csv module's 128 KiB limit (an unclosed quote)
        raise UnreadableFile(f"line {reader.line_num}: {error} (a quote opened and never closed?)") from error
    if header is None:
        raise UnreadableFile("the file is empty: the first line must name the columns")
    return Table(encoding, delimiter, header, records, blank)
