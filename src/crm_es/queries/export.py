"""Every read-side table to files (``crm-es export``): CSV or Parquet, written by DuckDB's
own ``COPY ... TO``, with a ``manifest.json`` saying what was exported.

The tables come from ``projections.schema.TABLES`` when the export runs, so a table added
later is exported too. All of them are read in one transaction: the files and the
manifest's position describe the same moment of the read side. Only the read side is
read — a forgotten contact's personal columns are null there, so they are null here.

The files are for other tools — pandas, polars, DuckDB, a spreadsheet — opened with their
defaults, so each column is cast to a type they all read (``EXPORTED_AS``), not written
with DuckDB's own. Why each:

- ``UUID`` becomes text (36 characters, lower case). DuckDB writes Parquet's UUID type,
  which pyarrow reads as its ``arrow.uuid`` extension: ``pandas.read_parquet`` then fails
  on a list of them ("Not implemented type for Arrow list to pandas") and polars reads
  16 raw bytes. ``UUID[]`` becomes a list of text for the same reason.
- ``JSON`` becomes text holding the JSON: Parquet's JSON type reaches polars as bytes.
- ``TIMESTAMPTZ`` stays an instant: a Parquet timestamp adjusted to UTC (pandas
  ``datetime64[us, UTC]``, polars ``Datetime(us, UTC)``); in CSV, ISO 8601 in UTC with a
  ``Z`` (``2026-03-01T09:00:00.000000Z``), which each tool's date parsing reads as UTC.
- ``DECIMAL(p,s)`` stays a decimal of the same scale, never a float: money is exact
  (pandas ``decimal.Decimal``, polars ``Decimal(p, s)``); CSV writes all ``s`` digits.
- ``DATE``, ``BOOLEAN``, ``INTEGER``, ``BIGINT``, ``VARCHAR`` travel as they are. pandas
  alone would still turn a column of integers with a null into floats, booleans with a
  null into objects and dates into objects, so each Parquet file also carries the
  ``pandas`` key-value metadata that pandas itself writes (the format of pandas'
  developer guide, "Storing pandas DataFrame objects in Apache Parquet format"), naming
  its nullable ``Int32``/``Int64``, ``boolean`` and Arrow ``date32`` dtypes. Polars and
  DuckDB ignore it.

A type the read side starts using without an entry here stops the export (ValueError)
rather than writing something a tool may misread. CSV holds text only: lists are JSON
arrays in one cell, and the manifest names each column's type (``columns``) so that a
reader can give them back (docs/export.md shows how for each tool).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from crm_es.projections.read_side import READ_SIDE
from crm_es.projections.schema import TABLES, Table

FORMATS = ("csv", "parquet")
MANIFEST = "manifest.json"

# The read side's types (projections/schema.py) and the type each is exported as.
EXPORTED_AS = {
    "UUID": "VARCHAR",
    "JSON": "VARCHAR",
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "DATE": "DATE",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
}
DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
CSV_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # ISO 8601, always UTC (the column is converted first)

# pandas' Parquet metadata for each exported type: (pandas_type, numpy_type), the dtype
# pandas builds the column with (decimals and lists are added by _pandas_column).
_PANDAS_DTYPES = {
    "VARCHAR": ("unicode", "object"),  # pandas 3 makes it its own string dtype
    "BOOLEAN": ("bool", "boolean"),
    "INTEGER": ("int32", "Int32"),
    "BIGINT": ("int64", "Int64"),
    "DATE": ("date", "date32[day][pyarrow]"),
    "TIMESTAMPTZ": ("datetimetz", "datetime64[us]"),
}


def exported_type(declared: str) -> str:
    """The portable type a column of the read side's ``declared`` type is exported as."""
    if declared.endswith("[]"):
        return exported_type(declared[:-2]) + "[]"
    if decimal := DECIMAL.fullmatch(declared):
        return f"DECIMAL({decimal[1]},{decimal[2]})"
    if declared not in EXPORTED_AS:
        raise ValueError(f"the read side's type {declared} has no exported type: add it to export.EXPORTED_AS")
    return EXPORTED_AS[declared]


def exported_columns(table: Table) -> dict[str, str]:
    return {name: exported_type(type_) for name, type_ in table.columns}


@dataclass(frozen=True)
class ExportedTable:
    name: str
    file: str
    rows: int
    columns: dict[str, str]  # name → exported type, in the file's order


@dataclass(frozen=True)
class Manifest:
    format: str
    position: int  # the read side's position: every event up to it is in the files
    exported_at: datetime
    tables: list[ExportedTable]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "position": self.position,
            "exported_at": self.exported_at.isoformat(),
            "tables": [t.__dict__ for t in self.tables],
        }


def export_read_side(
    cur: duckdb.DuckDBPyConnection,
    directory: Path,
    fmt: str,
    exported_at: datetime,
    progress: Callable[[int], None] = lambda _n: None,
) -> Manifest:
    """Write ``<table>.<fmt>`` for every table into ``directory``, then ``manifest.json``.

    The old manifest goes first and the new one is written last, so a manifest in the
    folder always describes a finished export."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    columns = {table.name: exported_columns(table) for table in TABLES}  # an unknown type fails before any file
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)
    # Parquet's instants are stored in UTC; the session's zone is set too so that nothing
    # this cursor writes depends on the machine's zone.
    cur.execute("SET SESSION TimeZone = 'UTC'")
    cur.execute("BEGIN TRANSACTION READ ONLY")
    try:
        row = cur.execute("SELECT position FROM projection_positions WHERE name = ?", [READ_SIDE]).fetchone()
        exported = []
        for table in TABLES:
            path = directory / f"{table.name}.{fmt}"
            rows = _copy(cur, table, columns[table.name], path, fmt)
            exported.append(ExportedTable(table.name, path.name, rows, columns[table.name]))
            progress(1)
    finally:
        cur.execute("ROLLBACK")  # read only: nothing to keep
    manifest = Manifest(fmt, row[0] if row else 0, exported_at, exported)
    staged = directory / f".{MANIFEST}.tmp"
    staged.write_text(json.dumps(manifest.as_dict(), indent=2) + "\n")
    staged.replace(directory / MANIFEST)
    return manifest


def export_archive(cur: duckdb.DuckDBPyConnection, into: Path, fmt: str, exported_at: datetime) -> tuple[Path, Manifest]:
    """The export as one zip file in the folder ``into`` (GET /export, while the service
    serves): the files `export_read_side` writes, from the same single read transaction, so
    one position; ``manifest.json`` last. Parquet is compressed already: stored as it is."""
    folder = into / "tables"
    manifest = export_read_side(cur, folder, fmt, exported_at)
    archive = into / f"crm-es-export-{manifest.position}.zip"
    method = zipfile.ZIP_STORED if fmt == "parquet" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(archive, "w", compression=method, allowZip64=True) as zipped:
        for table in manifest.tables:
            zipped.write(folder / table.file, table.file)
        zipped.write(folder / MANIFEST, MANIFEST)
    shutil.rmtree(folder)
    return archive, manifest


def unpack_archive(archive: Path, directory: Path) -> Manifest:
    """An archive of `export_archive` into ``directory``, as `export_read_side` would have
    written it there: the old manifest gone first, the new one written last."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)
    with zipfile.ZipFile(archive) as zipped:
        names = [name for name in zipped.namelist() if name != MANIFEST]
        if MANIFEST not in zipped.namelist() or any("/" in name or name.startswith(".") for name in names):
            raise ValueError(f"{archive.name} is not an export of crm-es (no manifest.json, or paths in it)")
        for name in names:
            zipped.extract(name, directory)
        data = json.loads(zipped.read(MANIFEST))
    staged = directory / f".{MANIFEST}.tmp"
    staged.write_text(json.dumps(data, indent=2) + "\n")
    staged.replace(directory / MANIFEST)
    return Manifest(data["format"], data["position"], datetime.fromisoformat(data["exported_at"]),
                    [ExportedTable(**table) for table in data["tables"]])


def _copy(cur: duckdb.DuckDBPyConnection, table: Table, columns: dict[str, str], path: Path, fmt: str) -> int:
    cell = _csv_cell if fmt == "csv" else _parquet_cell
    selected = ", ".join(f'{cell(name, declared, columns[name])} AS "{name}"' for name, declared in table.columns)
    order = f'ORDER BY "{table.key}"' if table.key else ""  # keyless tables keep log order
    if fmt == "csv":
        options = "FORMAT csv, HEADER"
    else:
        pandas = json.dumps(_pandas_metadata(columns)).replace("'", "''")
        options = f"FORMAT parquet, KV_METADATA {{pandas: '{pandas}'}}"
    target = str(path).replace("'", "''")
    result = cur.execute(f"COPY (SELECT {selected} FROM {table.name} {order}) TO '{target}' ({options})").fetchone()
    return int(result[0]) if result else 0


def _parquet_cell(name: str, declared: str, exported: str) -> str:
    return f'"{name}"' if declared == exported else f'CAST("{name}" AS {exported})'


def _csv_cell(name: str, declared: str, exported: str) -> str:
    # CSV has only text: a list goes in one cell as a JSON array (as the HTTP API's CSV
    # lists write them), an instant as ISO 8601 in UTC.
    if exported.endswith("[]"):
        return f'to_json(CAST("{name}" AS {exported}))'
    if exported == "TIMESTAMPTZ":
        return f"strftime(\"{name}\" AT TIME ZONE 'UTC', '{CSV_TIME}')"
    return _parquet_cell(name, declared, exported)


def _pandas_metadata(columns: dict[str, str]) -> dict[str, Any]:
    return {"index_columns": [], "column_indexes": [], "columns": [_pandas_column(n, t) for n, t in columns.items()],
            "creator": {"library": "crm-es"}}


def _pandas_column(name: str, exported: str) -> dict[str, Any]:
    metadata = None
    if exported.endswith("[]"):
        pandas_type, numpy_type = "list[unicode]", "object"
    elif decimal := DECIMAL.fullmatch(exported):
        pandas_type, numpy_type = "decimal", "object"
        metadata = {"precision": int(decimal[1]), "scale": int(decimal[2])}
    else:
        pandas_type, numpy_type = _PANDAS_DTYPES[exported]
        metadata = {"timezone": "UTC"} if exported == "TIMESTAMPTZ" else None
    return {"name": name, "field_name": name, "pandas_type": pandas_type, "numpy_type": numpy_type, "metadata": metadata}
