"""/imports/contacts and /imports/deals: CSV files uploaded with their column mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, File, Form, Header, Request, Response, UploadFile

from crm_es.entrypoints.http.answers import Answer
from crm_es.entrypoints.http.auth import Caller
from crm_es.entrypoints.http.deps import ServicesDep
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.commands.ownership import ownership_of
from crm_es.commands import CommandContext
from crm_es.commands.imports import fingerprint, first_answer, remember_answer
from crm_es.imports import deals as deal_files
from crm_es.imports.contacts import dated_properties, prepare, run
from crm_es.imports.dates import DAY_FIRST
from crm_es.queries.directory import ReadSideDirectory

router = APIRouter(tags=["imports"])

PATH = "/imports/contacts"  # its bodies may be larger than the others' (CRM_ES_MAX_IMPORT_BYTES)
DEALS_PATH = "/imports/deals"  # likewise


class RowError(Answer):
    field: str
    column: str | None = None
    rule: str
    message: str


class RowOutcome(Answer):
    row: int
    line: int
    status: Literal["imported", "updated", "skipped", "failed"]
    id: UUID | None = None
    note: str | None = None
    errors: list[RowError] | None = None


class FileRead(Answer):
    encoding: str
    delimiter: str
    columns: list[str]
    rows: int
    blank_lines: int


class ImportAnswer(Answer):
    dry_run: bool
    position: int
    file: FileRead
    mapping: dict[str, str]
    ignored_columns: list[str]
    counts: dict[str, int]
    rows: list[RowOutcome]


class DealRowOutcome(Answer):
    row: int
    line: int
    file: Literal["deals", "stages"]
    kind: Literal["deal", "stage_change"]
    old_id: str | None = None
    status: Literal["imported", "updated", "skipped", "failed"]
    id: UUID | None = None
    note: str | None = None
    errors: list[RowError] | None = None


class StagesFileRead(FileRead):
    mapping: dict[str, str]
    ignored_columns: list[str]


class CompanyRegistered(Answer):
    id: UUID
    name: str
    occurred_at: datetime


class DealImportAnswer(Answer):
    dry_run: bool
    position: int
    file: FileRead
    mapping: dict[str, str]
    ignored_columns: list[str]
    stages_file: StagesFileRead | None = None
    counts: dict[str, int]
    counts_by_kind: dict[str, dict[str, int]]
    companies_created: list[CompanyRegistered]
    rows: list[DealRowOutcome]


def multipart_body(request: Request) -> None:
    """Before the form is validated: a JSON (or any other) body is refused as a whole."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ProblemError(422, "invalid-field", "send the file as multipart/form-data (fields file, map, dry_run)",
                           errors=[{"field": "body", "message": "expected multipart/form-data"}])


def import_context(
    request: Request,
    services: ServicesDep,
    caller: Caller,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a retry with the same key and upload returns the first report")
    ] = None,
) -> CommandContext:
    """As for any command (``deps.command_context``), but the body is a form FastAPI has
    read already: the upload's fingerprint is taken from its fields, in the route. No
    If-Match: an import changes many records, each at whatever version it is."""
    ownership = ownership_of(caller, services.store, services.settings.rep_reads)
    return services.context(actor=caller.actor, ownership=ownership, correlation_id=request.state.request_id,
                            idempotency_key=idempotency_key)


@router.post(PATH, response_model=ImportAnswer, response_model_exclude_none=True,
             dependencies=[Depends(multipart_body)])
def post_contacts_import(
    ctx: Annotated[CommandContext, Depends(import_context)],
    services: ServicesDep,
    response: Response,
    file: Annotated[UploadFile, File(description="the CSV file: UTF-8 (with or without BOM), UTF-16, Windows-1252 "
                                                 "or Latin-1; `,` `;` tab or `|` between cells")],
    mapping: Annotated[list[str], Form(alias="map", description="`column=property`, repeated; or one JSON object "
                                                               '`{"column": "property"}`')] = [],  # noqa: B006
    dry_run: Annotated[bool, Form(description="decide every row, write nothing")] = False,
    timezone: Annotated[str, Form(max_length=64, description="for times written without an offset")] = "UTC",
    date_order: Annotated[Literal["dmy", "mdy"],
                          Form(description="01/03/2026 is 1 March (dmy) or 3 January (mdy)")] = DAY_FIRST,
) -> Any:
    """Import contacts from a CSV file. Each row registers a contact, or changes the one
    with its e-mail (re-sending a file creates no duplicate), through the same rules as
    `POST /contacts` / `PATCH /contacts/{id}`. The answer reports every row: `imported`,
    `updated`, `skipped` (nothing differs) or `failed` (with each field's reason); a bad
    row never stops the others. 200 for a dry run and a real one alike: the import itself
    was done, whatever its rows said. A rep's rows are theirs unless an `owner` column
    names another rep they may write for."""
    data = file.file.read()
    parts = (data, json.dumps(mapping), str(dry_run), timezone, date_order)

    def read(directory: ReadSideDirectory) -> Any:  # companies and reps named by the file
        return prepare(data, mapping, directory, timezone=timezone, date_order=date_order,
                       dated=dated_properties(services.store))

    return _once(ctx, services, response, parts, dry_run, read, run)


@router.post(DEALS_PATH, response_model=DealImportAnswer, response_model_exclude_none=True,
             dependencies=[Depends(multipart_body)])
def post_deals_import(
    ctx: Annotated[CommandContext, Depends(import_context)],
    services: ServicesDep,
    response: Response,
    file: Annotated[UploadFile, File(description="the deals: one row per deal (and stage change rows, with a "
                                                 "`row_type` column); encodings and delimiters as for contacts")],
    stages: Annotated[UploadFile | None, File(description="one row per stage change: the deal's id in the old CRM, "
                                                          "the stage, when")] = None,
    mapping: Annotated[list[str], Form(alias="map", description="`column=target`, repeated; or one JSON object; "
                                                               "usual export headers need none")] = [],  # noqa: B006
    dry_run: Annotated[bool, Form(description="decide every row, write nothing")] = False,
    timezone: Annotated[str, Form(max_length=64, description="for times written without an offset")] = "UTC",
    date_order: Annotated[Literal["dmy", "mdy"],
                          Form(description="01/03/2026 is 1 March (dmy) or 3 January (mdy)")] = DAY_FIRST,
    pipeline: Annotated[str | None, Form(max_length=200, description="the pipeline (name or id) of rows that "
                                                                     "name none")] = None,
    currency: Annotated[str | None, Form(max_length=3, description="the currency of rows that name none")] = None,
) -> Any:
    """Import deals from an old CRM with their history. Each deal is opened at its created
    date, moved at each stage change's date and won or lost at its close date, through the
    same rules as `POST /deals` and `POST /deals/{id}/stage` · `/won` · `/lost` (the pipeline
    must exist from before the file's dates: create it with an earlier `occurred_at`). A
    company named by no record is registered, dated at the earliest row naming it. The
    answer reports every row: `imported`, `updated` (a deal imported before, closed since),
    `skipped` (imported before) or `failed` (with each field's reason and rule); a bad row
    never stops the others, and re-sending a file writes only what is new. 200 for a dry run
    and a real one alike. Admins only: it registers companies and writes every rep's deals."""
    data = file.file.read()
    stages_data = stages.file.read() if stages is not None else None
    parts = (data, stages_data or b"", json.dumps(mapping), str(dry_run), timezone, date_order, pipeline or "",
             currency or "")

    def read(directory: ReadSideDirectory) -> Any:  # pipelines, reps, companies and contacts named by the file
        return deal_files.prepare(data, mapping, directory, stages=stages_data, timezone=timezone,
                                  date_order=date_order, pipeline=pipeline, currency=currency,
                                  dated=deal_files.dated_properties(services.store))

    return _once(ctx, services, response, parts, dry_run, read, deal_files.run)


def _once(ctx: CommandContext, services: Any, response: Response, parts: tuple[Any, ...], dry_run: bool,
          read: Callable[[ReadSideDirectory], Any], run_rows: Callable[..., Any]) -> Any:
    """An import under its Idempotency-Key: the upload's fingerprint taken from its parts
    (the form FastAPI has read), the first answer given back to a retry, the records the
    file names looked up on the read side caught up to now, and the answer remembered
    (a dry run writes nothing, so it is neither replayed nor remembered)."""
    ctx = replace(ctx, fingerprint=fingerprint(*parts))
    with ctx.alone():  # a retry racing its first try waits for it, then hears its report
        if not dry_run and (first := first_answer(ctx)) is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return first
        services.projector.catch_up()  # what the file names is found as of now
        with services.read_side.cursor() as cur:
            prepared = read(ReadSideDirectory(cur))
        body = run_rows(prepared, ctx, dry_run=dry_run)
        if not dry_run and (first := remember_answer(ctx, body)) is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return first
        return body
