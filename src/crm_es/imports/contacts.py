"""A contacts file, start to end, for both edges (``crm-es import contacts`` and
``POST /imports/contacts``): read the file, map its columns, read the rows, import
them (``crm_es.commands.imports``), and say what happened, row by row."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from crm_es.aggregates.base import InvalidInput
from crm_es.commands.context import CommandContext
from crm_es.commands.imports import ContactRow, ImportReport, RowResult, import_contacts
from crm_es.commands.setup import current_setup
from crm_es.imports.csv_file import Table, UnreadableFile, read_table
from crm_es.imports.dates import DAY_FIRST, time_options
from crm_es.imports.mapping import ColumnMap, column_map
from crm_es.imports.rows import Directory, ReadOptions, contact_rows
from crm_es.store import EventStore

# Fields the commands name by id, that a file names by what the mapping calls them.
MAPPED_AS = {"company_id": "company", "owner_id": "owner"}


@dataclass(frozen=True)
class PreparedFile:
    table: Table
    columns: ColumnMap
    rows: list[ContactRow]


def dated_properties(store: EventStore) -> set[str]:
    """The contact properties the configuration defines as dates: their cells are read
    as dates in any of the usual formats (and stored as ISO dates, as the type wants)."""
    [setup] = current_setup(store)
    return {p.name for p in setup.properties_of("contact") if p.type == "date"}


def prepare(data: bytes, mapping: Sequence[str], directory: Directory, *, timezone: str = "UTC",
            date_order: str = DAY_FIRST, dated: Collection[str] = ()) -> PreparedFile:
    """The file read and its rows typed; InvalidInput naming ``file``, ``map``,
    ``timezone`` or ``date_order`` when the file as a whole cannot be imported."""
    zone = time_options(timezone, date_order)
    try:
        table = read_table(data)
    except UnreadableFile as error:
        raise InvalidInput("file", str(error)) from error
    columns = column_map(table.header, mapping, dated)
    return PreparedFile(table, columns, contact_rows(table, columns, directory, ReadOptions(zone, date_order)))


def run(prepared: PreparedFile, ctx: CommandContext, *, dry_run: bool = False,
        progress: Callable[[int], None] = lambda _n: None) -> dict[str, Any]:
    """Import the rows (or, dry, decide them) and answer the report."""
    return answer(prepared, import_contacts(prepared.rows, ctx, dry_run=dry_run, progress=progress))


def answer(prepared: PreparedFile, report: ImportReport) -> dict[str, Any]:
    """The report as JSON: the file as read, the mapping used, counts, and every row."""
    table, columns = prepared.table, prepared.columns
    return {
        "dry_run": report.dry_run,
        "position": report.position,
        "file": {"encoding": table.encoding, "delimiter": table.delimiter, "columns": table.header,
                 "rows": len(table.records), "blank_lines": table.blank_lines},
        "mapping": columns.as_dict(),
        "ignored_columns": columns.ignored,
        "counts": report.counts,
        "rows": [_row(result, columns) for result in report.rows],
    }


def _row(result: RowResult, columns: ColumnMap) -> dict[str, Any]:
    out: dict[str, Any] = {"row": result.row, "line": result.line, "status": result.status}
    if result.id is not None:
        out["id"] = str(result.id)
    if result.note:
        out["note"] = result.note
    if result.errors:
        out["errors"] = []
        for problem in result.errors:
            field = MAPPED_AS.get(problem.field, problem.field)
            out["errors"].append({"field": field, "column": columns.column_of(field), "rule": problem.rule,
                                  "message": problem.message})
    return out
