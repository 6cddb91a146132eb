"""The read side's maintenance while the service serves, for admins: a blue-green rebuild
(POST /read-side/rebuild, its progress at GET) and an export of every table at one position
(GET /export). `crm-es rebuild` and `crm-es export` go through these when `serve` runs."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import Field
from starlette.background import BackgroundTask

from crm_es.entrypoints.http.answers import Answer
from crm_es.entrypoints.http.deps import ReadCursor, ServicesDep
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.projections.rebuild import RebuildRunning
from crm_es.queries.export import MANIFEST, export_archive

router = APIRouter(tags=["maintenance"])

REBUILD_PATH = "/read-side/rebuild"


class RebuildAnswer(Answer):
    state: Literal["idle", "building", "swapping", "done", "failed"] = Field(
        description="idle: no rebuild since the service started; building: the new side follows the log; "
                    "swapping: it takes over (a moment); done: the read side is the new one; failed: see error, "
                    "the read side is the one before")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    events: int = Field(description="events projected into the new side so far")
    position: int = Field(description="the new side's log position (once done, the read side's)")
    head: int = Field(description="the log's last position when last looked: building is done near it")
    keep_old: bool = Field(description="the side replaced is kept as read.duckdb.old")
    error: str | None = None


@router.post(REBUILD_PATH, status_code=202, response_model=RebuildAnswer, responses={
    202: {"description": "Started: follow it at GET /read-side/rebuild (the Location header)",
          "headers": {"Location": {"description": "/read-side/rebuild", "schema": {"type": "string"}}}},
    409: {"description": "A rebuild is running already (`rule`: rebuild-running): follow that one"}})
def post_read_side_rebuild(
    services: ServicesDep, response: Response,
    keep_old: Annotated[bool, Query(description="keep the side replaced as read.duckdb.old (by default it is "
                                                "removed: a forgotten person's bytes with it)")] = False,
) -> Any:
    """Rebuild the read side from the events while the service answers: a new side is built
    beside the live one, follows the log to its head, then takes over at once — reads see the
    old side until then, commands are saved throughout. One at a time."""
    try:
        progress = services.rebuilds.start(keep_old)
    except RebuildRunning as running:
        raise ProblemError(409, "rebuild-running", str(running), {"Location": REBUILD_PATH},
                           started_at=running.progress.started_at.isoformat() if running.progress.started_at else None) from None
    response.headers["Location"] = REBUILD_PATH
    return progress.as_dict()


@router.get(REBUILD_PATH, response_model=RebuildAnswer)
def get_read_side_rebuild(services: ServicesDep) -> Any:
    """Where the last rebuild since the service started stands (poll it for a progress bar)."""
    return services.rebuilds.progress.as_dict()


@router.get("/export", response_class=FileResponse, responses={
    200: {"content": {"application/zip": {}},
          "description": f"A zip of `<table>.<format>` for every read-side table and `{MANIFEST}` (the position "
                         "they are at, each file's rows and column types); X-Position says the position too"},
    503: {"description": "The export could not be written (`rule`: export-failed; the disk full …): retry later"}})
def get_export(
    request: Request, services: ServicesDep, cur: ReadCursor,
    fmt: Annotated[Literal["csv", "parquet"], Query(alias="format", description="csv, or parquet (typed, for "
                                                                            "pandas, polars or DuckDB)")] = "parquet",
) -> Any:
    """Every read-side table at one log position, written from one read transaction while the
    service serves (commands saved meanwhile are in a later export). The files are those of
    `crm-es export` (docs/export.md); personal columns as the read side holds them (null once
    the person is forgotten). Admins only."""
    folder = Path(tempfile.mkdtemp(prefix=".export-", dir=services.settings.data_dir))
    try:
        archive, manifest = export_archive(cur, folder, fmt, services.clock.now())
    except (OSError, duckdb.Error) as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise ProblemError(503, "export-failed", f"the export could not be written: {error}",
                           {"Retry-After": "60"}) from None
    request.state.read_position = manifest.position  # X-Position: the snapshot's own
    return FileResponse(archive, media_type="application/zip", filename=archive.name,
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
