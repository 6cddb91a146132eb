"""Where a person's data could be left once they are forgotten, and the search of it.

A place is a name a reader can act on (a file, a table's column, an export's column, an
audit export's line) and the bytes found there. The search looks, in every place, for
every marker of a person: distinct values given to each of their fields, made of lower
case letters, digits and hyphens only, so the same bytes stand in the URL-encoded,
JSON-escaped and CSV copies of them, and lower-casing the place finds a case-folded
e-mail too.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

Place = tuple[str, bytes]


@dataclass
class Markers:
    """``markers("call-notes")`` → ``zq7<run>-<who>-call-notes-zq``, remembered by field. The
    ending keeps one marker from being found inside another (``phone`` in ``phone-2``)."""

    run: str
    who: str
    values: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> str:
        value = f"zq7{self.run}-{self.who}-{name}-zq"
        self.values[name] = value
        return value

    def email(self, name: str) -> str:
        """An address whose local part is the marker, given in mixed case (its claim is case-folded)."""
        return f"{self(name).capitalize()}@Forget.Example"


@dataclass(frozen=True)
class Found:
    place: str
    field: str  # which of the person's values


def search(places: Iterable[Place], markers: Markers) -> list[Found]:
    wanted = [(name, value.encode()) for name, value in markers.values.items()]
    found = []
    for place, data in places:
        folded = data.lower()
        found += [Found(place, name) for name, value in wanted if value in folded]
    return found


def described(found: list[Found]) -> str:
    by_place: dict[str, list[str]] = {}
    for f in found:
        by_place.setdefault(f.place, []).append(f.field)
    return "\n".join(f"  {place}: {', '.join(sorted(fields))}" for place, fields in sorted(by_place.items()))


# --- files ----------------------------------------------------------------------------------


def files_under(folder: Path, label: str) -> Iterator[Place]:
    """Every file's bytes (a SQLite database with its -wal and -shm, DuckDB's file and WAL, logs …)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        yield f"{label} {path.relative_to(folder)}", path.read_bytes()


def text(value: object) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8", "backslashreplace")


def columns(place: str, names: list[str], rows: Iterable[tuple]) -> Iterator[Place]:
    """One place a column: its values read back, one a line."""
    values: list[list[bytes]] = [[] for _ in names]
    for row in rows:
        for i, value in enumerate(row):
            if value is not None:
                values[i].append(text(value))
    for name, column in zip(names, values, strict=True):
        yield f"{place}.{name}", b"\n".join(column)


# --- the read side (DuckDB), value by value ---------------------------------------------------


def duckdb_values(path: Path) -> Iterator[Place]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            cursor = db.execute(f'SELECT * FROM "{schema}"."{table}"')
            names = [d[0] for d in cursor.description]
            yield from columns(f"read side {table}", names, cursor.fetchall())


# --- exports --------------------------------------------------------------------------------


def parquet_values(folder: Path) -> Iterator[Place]:
    import pyarrow.parquet as pq

    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path).to_pydict()
        yield from columns(f"export {path.name}", list(table), zip(*table.values(), strict=True))


def audit_lines(path: Path) -> Iterator[Place]:
    """An audit export's lines, and each line's stored bytes decoded (they travel as base64)."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        yield f"audit export {path.name} line {number}", line.encode()
        try:
            stored = base64.b64decode(json.loads(line)["stored"])
        except (ValueError, KeyError, binascii.Error):
            continue
        yield f"audit export {path.name} line {number} (stored bytes)", stored


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_rows(url: str, schema: str) -> Iterator[Place]:
    """Every row of every table of the schema, read back (bytea as its bytes)."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE' "
            "ORDER BY 1", (schema,))]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{schema}"."{table}"')
            names = [d.name for d in cursor.description]
            yield from columns(f"PostgreSQL {table}", names, cursor.fetchall())


RELATIONS = """
SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'i', 'm')
UNION ALL  -- the TOAST tables of the schema's tables (large values) and their indexes
SELECT t.relname, pg_relation_filepath(t.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid IN (c.reltoastrelid, (SELECT indexrelid FROM pg_index WHERE indrelid = c.reltoastrelid))
WHERE n.nspname = %(schema)s AND c.reltoastrelid <> 0
"""


def postgres_files(url: str, schema: str) -> tuple[list[Place], str | None]:
    """The bytes of the schema's table, TOAST and index files, after VACUUM and CHECKPOINT
    (dead rows pruned, pages written), and of the server's WAL; or why they cannot be read
    (the server's data folder is not readable by this test's user)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
        if not os.access(data_dir / "base", os.R_OK | os.X_OK):
            return [], f"PostgreSQL's data folder {data_dir} is not readable here: its files were not searched"
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (schema,))]
        for table in tables:
            conn.execute(f'VACUUM "{schema}"."{table}"')
        conn.execute("CHECKPOINT")
        relations = conn.execute(RELATIONS, {"schema": schema}).fetchall()
    places = []
    for name, relative in relations:
        main = data_dir / relative
        segments = re.compile(re.escape(main.name) + r"(\.\d+)?")  # a relation past 1 GB goes on in 16384.1 …
        for path in sorted(p for p in main.parent.iterdir() if segments.fullmatch(p.name)):
            places.append((f"PostgreSQL file of {name} ({path.name})", path.read_bytes()))
    places += [(f"PostgreSQL WAL {p.name}", p.read_bytes()) for p in sorted((data_dir / "pg_wal").glob("0*"))
               if p.is_file()]
    return places, None
