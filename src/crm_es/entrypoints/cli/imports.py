"""`crm-es import contacts FILE --map column=property …` and `crm-es import deals FILE [--stages FILE]`

An import finds the records a file names — companies, reps, pipelines, contacts by name,
id or e-mail — on the read side, before writing its rows through the commands. While
`crm-es serve` runs, its process holds the read side: the file is uploaded to it
(`POST /imports/contacts`, `POST /imports/deals`; the same report, the key's actor on the
events; files up to CRM_ES_MAX_IMPORT_BYTES). Otherwise this command opens the read side
itself, and brings it up to date afterwards.

Exit codes: 0 every row imported, updated or skipped; 3 some rows failed (or would, in a
dry run) — the others are imported and the report says which and why; 1 the import
could not run (unreadable file, bad mapping, store unreachable); 2 bad usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from crm_es.aggregates.base import DomainError
from crm_es.entrypoints.cli.console import fail, opened_services, progress, report
from crm_es.entrypoints.cli.remote import Service, running, service_options
from crm_es.imports.dates import DATE_ORDERS, DAY_FIRST

ACTOR = "cli:import"
ROWS_FAILED = 3


@click.group(name="import")
def import_group() -> None:
    """Import records from CSV files."""


@import_group.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=PROPERTY",
              help="which column fills which property (repeat it); properties: first_name, last_name, email, phone, "
                   "job_title, city, source, status, tags, company (name or id), owner (rep id or e-mail), "
                   "occurred_at, properties.NAME[:date]. Columns named like a property are mapped to it.")
@click.option("--dry-run", is_flag=True, help="decide every row and report, write nothing")
@click.option("--timezone", default="UTC", show_default=True, help="for times written without an offset")
@click.option("--date-order", type=click.Choice(DATE_ORDERS), default=DAY_FIRST, show_default=True,
              help="is 01/03/2026 the 1st of March (dmy) or the 3rd of January (mdy)")
@service_options
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
def contacts(file: Path, mapping: tuple[str, ...], dry_run: bool, timezone: str, date_order: str,
             url: str | None, api_key: str | None, as_json: bool) -> None:
    """Import contacts from FILE: a row whose e-mail is new registers a contact, one whose
    e-mail is known changes that contact (or is skipped when nothing differs), so running
    the same file again creates no duplicate. While `crm-es serve` runs, the service imports it."""
    from crm_es.imports.contacts import dated_properties, prepare, run
    from crm_es.queries.directory import ReadSideDirectory

    data = file.read_bytes()
    service = running(url, api_key)
    if service is not None:
        body = _upload(service, "/imports/contacts", {"file": (file.name, data, "text/csv")}, mapping=mapping,
                       dry_run=dry_run, timezone=timezone, date_order=date_order)
        report(as_json, body, _text(body, file))
        sys.exit(ROWS_FAILED if body["counts"]["failed"] else 0)
    with opened_services() as services:
        services.projector.catch_up()
        try:
            with services.read_side.cursor() as cur:
                prepared = prepare(data, mapping, ReadSideDirectory(cur), timezone=timezone, date_order=date_order,
                                   dated=dated_properties(services.store))
            ctx = services.context(actor=ACTOR)
            label = "checking rows" if dry_run else "importing rows"
            with progress(len(prepared.rows), label, as_json) as tick:
                body = run(prepared, ctx, dry_run=dry_run, progress=tick)
        except DomainError as error:
            fail(f"{getattr(error, 'field', None) or 'import'}: {error.detail}")
        if not dry_run:
            services.projector.catch_up()
    report(as_json, body, _text(body, file))
    sys.exit(ROWS_FAILED if body["counts"]["failed"] else 0)


def _upload(service: Service, path: str, files: dict[str, Any], mapping: tuple[str, ...], dry_run: bool,
            **fields: str | None) -> dict[str, Any]:
    """The file(s) sent to the service's import route; its report."""
    form: dict[str, Any] = {"map": list(mapping), "dry_run": str(dry_run).lower(),
                            **{name: value for name, value in fields.items() if value is not None}}
    click.echo(f"crm-es: the service at {service.url} imports the file", err=True)
    return service.call("POST", path, files=files, data=form)


def _text(body: dict[str, Any], file: Path) -> str:
    counts, read = body["counts"], body["file"]
    verb = "would be" if body["dry_run"] else "were"
    lines = [
        f"{file.name}: {read['rows']} rows ({read['encoding']}, {read['delimiter']!r} between cells)",
        "mapping: " + ", ".join(f"{column} → {target}" for column, target in body["mapping"].items()),
    ]
    if body["ignored_columns"]:
        lines.append("ignored columns: " + ", ".join(body["ignored_columns"]))
    for row in body["rows"]:
        for error in row.get("errors", []):
            where = f"column {error['column']!r}" if error.get("column") else error["field"] or "row"
            lines.append(f"row {row['row']} (line {row['line']}): {where}: {error['message']}")
    lines.append(f"{counts['imported']} imported, {counts['updated']} updated, {counts['skipped']} skipped, "
                 f"{counts['failed']} failed" + (" (dry run: nothing written)" if body["dry_run"] else "")
                 + ("" if not counts["failed"] else f"; failed rows {verb} left out"))
    return "\n".join(lines)


@import_group.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--stages", "stages_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a second file with one row per stage change: old_id, stage, changed_at")
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=TARGET",
              help="which column fills what (repeat it; applies to the file that has the column): old_id, row_type, "
                   "title, pipeline, stage, owner, company, contacts, amount, currency, created_at, closed_at, "
                   "outcome, lost_reason, competitor, source, expected_close, changed_at, properties.NAME[:date]. "
                   "Usual export headers (Deal Name, Deal Stage, Close Date, Deal - Value …) are mapped by themselves.")
@click.option("--pipeline", default=None, help="the pipeline (name or id) of rows that name none")
@click.option("--currency", default=None, help="the currency of rows that name none (EUR, USD …)")
@click.option("--dry-run", is_flag=True, help="decide every row and report, write nothing")
@click.option("--timezone", default="UTC", show_default=True, help="for times written without an offset")
@click.option("--date-order", type=click.Choice(DATE_ORDERS), default=DAY_FIRST, show_default=True,
              help="is 01/03/2026 the 1st of March (dmy) or the 3rd of January (mdy)")
@service_options
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
def deals(file: Path, stages_file: Path | None, mapping: tuple[str, ...], pipeline: str | None, currency: str | None,
          dry_run: bool, timezone: str, date_order: str, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Import deals from an old CRM's FILE, with their history: each deal opened at its
    created date, moved at each stage change's date, won or lost at its close date. A deal
    imported before (same id in the old CRM) gets only what the file dates after its last
    recorded change, so running the same file again writes nothing."""
    from crm_es.imports.deals import dated_properties, prepare, run
    from crm_es.queries.directory import ReadSideDirectory

    data = file.read_bytes()
    stages = stages_file.read_bytes() if stages_file is not None else None
    service = running(url, api_key)
    if service is not None:
        files = {"file": (file.name, data, "text/csv")}
        if stages_file is not None and stages is not None:
            files["stages"] = (stages_file.name, stages, "text/csv")
        body = _upload(service, "/imports/deals", files, mapping=mapping, dry_run=dry_run, timezone=timezone,
                       date_order=date_order, pipeline=pipeline, currency=currency)
        report(as_json, body, _deals_text(body, file, stages_file))
        sys.exit(ROWS_FAILED if body["counts"]["failed"] else 0)
    with opened_services() as services:
        services.projector.catch_up()
        try:
            with services.read_side.cursor() as cur:
                prepared = prepare(data, mapping, ReadSideDirectory(cur), stages=stages, timezone=timezone,
                                   date_order=date_order, pipeline=pipeline, currency=currency,
                                   dated=dated_properties(services.store))
            ctx = services.context(actor=ACTOR)
            label = "checking rows" if dry_run else "importing rows"
            with progress(prepared.rows, label, as_json) as tick:
                body = run(prepared, ctx, dry_run=dry_run, progress=tick)
        except DomainError as error:
            fail(f"{getattr(error, 'field', None) or 'import'}: {error.detail}")
        if not dry_run:
            services.projector.catch_up()
    report(as_json, body, _deals_text(body, file, stages_file))
    sys.exit(ROWS_FAILED if body["counts"]["failed"] else 0)


def _deals_text(body: dict[str, Any], file: Path, stages_file: Path | None) -> str:
    lines = []
    for path, read, mapping, ignored in [
        (file, body["file"], body["mapping"], body["ignored_columns"]),
        *([(stages_file, body["stages_file"], body["stages_file"]["mapping"], body["stages_file"]["ignored_columns"])]
          if stages_file is not None else []),
    ]:
        lines.append(f"{path.name}: {read['rows']} rows ({read['encoding']}, {read['delimiter']!r} between cells)")
        lines.append("  mapping: " + ", ".join(f"{column} → {target}" for column, target in mapping.items()))
        if ignored:
            lines.append("  ignored columns: " + ", ".join(ignored))
    names = {"deals": file.name, "stages": stages_file.name if stages_file else ""}
    for row in body["rows"]:
        for error in row.get("errors", []):
            where = f"column {error['column']!r}" if error.get("column") else error["field"] or "row"
            lines.append(f"{names[row['file']]} row {row['row']} (line {row['line']}): {where}: {error['message']}")
    for company in body["companies_created"]:
        lines.append(f"company {company['name']!r} registered, dated {company['occurred_at']}")
    dry = " (dry run: nothing written)" if body["dry_run"] else ""
    for kind, label in (("deal", "deals"), ("stage_change", "stage changes")):
        c = body["counts_by_kind"][kind]
        lines.append(f"{label}: {c['imported']} imported, {c['updated']} updated, {c['skipped']} skipped, "
                     f"{c['failed']} failed{dry}")
    return "\n".join(lines)
