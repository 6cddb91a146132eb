"""A deals file (and its stage changes), start to end, for both edges (``crm-es import
deals`` and ``POST /imports/deals``): read the files, map their columns, read the rows,
import them (``crm_es.commands.deal_imports``), and say what happened, row by row."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from crm_es.aggregates.base import InvalidInput
from crm_es.aggregates.money import CURRENCIES
from crm_es.commands.context import CommandContext
from crm_es.commands.deal_imports import DealImportReport, DealRowResult, import_deals
from crm_es.commands.deal_plans import (
    DEAL,
    STAGE_CHANGE,
    STAGES_FILE,
    DealRow,
    StageRow,
)
from crm_es.commands.setup import current_setup
from crm_es.imports.csv_file import Table, UnreadableFile, read_table
from crm_es.imports.dates import DAY_FIRST, time_options
from crm_es.imports.deal_columns import deal_columns, split_entries, stage_columns
from crm_es.imports.deal_rows import (
    DealDirectory,
    DealReadOptions,
    deal_file_rows,
    stage_file_rows,
)
from crm_es.imports.mapping import ColumnMap
from crm_es.store import EventStore

# Fields the commands name by id, that a file names by what the mapping calls them.
MAPPED_AS = {"owner_id": "owner", "company_id": "company", "pipeline_id": "pipeline", "reason": "lost_reason",
             "contact_ids": "contacts"}
_INDEXED = re.compile(r"\[\d+\]$")  # contact_ids[2]


@dataclass(frozen=True)
class PreparedDeals:
    table: Table
    columns: ColumnMap
    stages_table: Table | None
    stages_columns: ColumnMap | None
    deal_rows: list[DealRow]
    stage_rows: list[StageRow]

    @property
    def rows(self) -> int:
        return len(self.deal_rows) + len(self.stage_rows)


def dated_properties(store: EventStore) -> set[str]:
    """The deal properties the configuration defines as dates (their cells are read as dates)."""
    [setup] = current_setup(store)
    return {p.name for p in setup.properties_of("deal") if p.type == "date"}


def prepare(data: bytes, mapping: Sequence[str], directory: DealDirectory, *, stages: bytes | None = None,
            timezone: str = "UTC", date_order: str = DAY_FIRST, pipeline: str | None = None,
            currency: str | None = None, dated: Collection[str] = ()) -> PreparedDeals:
    """The files read and their rows typed; InvalidInput naming ``file``, ``stages``,
    ``map``, ``timezone``, ``date_order`` or ``currency`` when they cannot be imported at all."""
    zone = time_options(timezone, date_order)
    currency = currency.strip().upper() if currency and currency.strip() else None
    if currency is not None and currency not in CURRENCIES:
        raise InvalidInput("currency", f"{currency!r} is not an ISO 4217 currency code (EUR, USD …)")
    table = _read("file", data)
    stages_table = _read("stages", stages) if stages is not None else None
    for_deals, for_stages = split_entries(mapping, table.header, stages_table.header if stages_table else None)
    columns = deal_columns(table.header, for_deals, dated)
    options = DealReadOptions(zone, date_order, pipeline.strip() if pipeline and pipeline.strip() else None, currency)
    deal_rows, stage_rows = deal_file_rows(table, columns, directory, options)
    stages_columns = None
    if stages_table is not None:
        stages_columns = stage_columns(stages_table.header, for_stages)
        stage_rows += stage_file_rows(stages_table, stages_columns, options)
    return PreparedDeals(table, columns, stages_table, stages_columns, deal_rows, stage_rows)


def _read(field: str, data: bytes) -> Table:
    try:
        return read_table(data)
    except UnreadableFile as error:
        raise InvalidInput(field, str(error)) from error


def run(prepared: PreparedDeals, ctx: CommandContext, *, dry_run: bool = False,
        progress: Callable[[int], None] = lambda _n: None) -> dict[str, Any]:
    """Import the rows (or, dry, decide them) and answer the report."""
    report = import_deals(prepared.deal_rows, prepared.stage_rows, ctx, dry_run=dry_run, progress=progress)
    return answer(prepared, report)


def answer(prepared: PreparedDeals, report: DealImportReport) -> dict[str, Any]:
    """The report as JSON: the files as read, the mappings used, counts, companies
    registered, and every row."""
    stages = None
    if prepared.stages_table is not None and prepared.stages_columns is not None:
        stages = {**_file(prepared.stages_table), "mapping": prepared.stages_columns.as_dict(),
                  "ignored_columns": prepared.stages_columns.ignored}
    return {
        "dry_run": report.dry_run,
        "position": report.position,
        "file": _file(prepared.table),
        "mapping": prepared.columns.as_dict(),
        "ignored_columns": prepared.columns.ignored,
        "stages_file": stages,
        "counts": report.counts(),
        "counts_by_kind": {DEAL: report.counts(DEAL), STAGE_CHANGE: report.counts(STAGE_CHANGE)},
        "companies_created": [{"id": str(c.id), "name": c.name, "occurred_at": c.occurred_at.isoformat()}
                              for c in report.companies],
        "rows": [_row(result, prepared) for result in report.rows],
    }


def _file(table: Table) -> dict[str, Any]:
    return {"encoding": table.encoding, "delimiter": table.delimiter, "columns": table.header,
            "rows": len(table.records), "blank_lines": table.blank_lines}


def _row(result: DealRowResult, prepared: PreparedDeals) -> dict[str, Any]:
    out: dict[str, Any] = {"row": result.at.row, "line": result.at.line, "file": result.at.file, "kind": result.kind,
                           "old_id": result.old_id, "status": result.status}
    if result.id is not None:
        out["id"] = str(result.id)
    if result.note:
        out["note"] = result.note
    if result.errors:
        columns = prepared.stages_columns if result.at.file == STAGES_FILE else prepared.columns
        assert columns is not None
        out["errors"] = []
        for problem in result.errors:
            field = _INDEXED.sub("", problem.field)
            field = MAPPED_AS.get(field, field)
            out["errors"].append({"field": field, "column": columns.column_of(field), "rule": problem.rule,
                                  "message": problem.message})
    return out
