"""Every read-side table to files (``crm-es export``): CSV or Parquet, written by DuckDB's
own ``COPY ... TO``, with a ``manifest.json`` saying what was exported.

The tables come from ``projections.schema.TABLES`` when the export runs, so a table added
later is exported too. All of them are read in one transaction: the files and the
manifest's position describe the same moment of the read side. Only the read side is
read — a forgotten contact's personal columns are null there, so they are null here.
"""

from __future__ import annotations

import json
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


@dataclass(frozen=True)
class ExportedTable:
    name: str
    file: str
    rows: int


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
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)
    # Times are written in UTC whatever the machine's zone (this cursor's session only).
    cur.execute("SET SESSION TimeZone = 'UTC'")
    cur.execute("BEGIN TRANSACTION READ ONLY")
    try:
        row = cur.execute("SELECT position FROM projection_positions WHERE name = ?", [READ_SIDE]).fetchone()
        exported = []
        for table in TABLES:
            path = directory / f"{table.name}.{fmt}"
            exported.append(ExportedTable(table.name, path.name, _copy(cur, table, path, fmt)))
            progress(1)
    finally:
        cur.execute("ROLLBACK")  # read only: nothing to keep
    manifest = Manifest(fmt, row[0] if row else 0, exported_at, exported)
    staged = directory / f".{MANIFEST}.tmp"
    staged.write_text(json.dumps(manifest.as_dict(), indent=2) + "\n")
    staged.replace(directory / MANIFEST)
    return manifest


def _copy(cur: duckdb.DuckDBPyConnection, table: Table, path: Path, fmt: str) -> int:
    # Parquet keeps DuckDB's types (lists, UUIDs, decimals, JSON). CSV has only text, so
    # lists and structs go in one cell as JSON, as the HTTP API's CSV lists write them.
    columns = ", ".join(_csv_cell(name, type_) if fmt == "csv" else f'"{name}"' for name, type_ in table.columns)
    order = f'ORDER BY "{table.key}"' if table.key else ""  # keyless tables keep log order
    options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT parquet"
    target = str(path).replace("'", "''")
    result = cur.execute(f"COPY (SELECT {columns} FROM {table.name} {order}) TO '{target}' ({options})").fetchone()
    return int(result[0]) if result else 0


def _csv_cell(name: str, type_: str) -> str:
    nested = type_.endswith("]") or type_.upper().startswith(("STRUCT", "MAP", "UNION"))
    return f'to_json("{name}") AS "{name}"' if nested else f'"{name}"'
