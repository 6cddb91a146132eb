"""POST /sql: analysts' read-only SQL over the read side (the checks and the running are
in queries/analyst_sql.py)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import Field

from crm_es.entrypoints.http.answers import Answer
from crm_es.entrypoints.http.auth import Caller
from crm_es.entrypoints.http.deps import ReadCursor, ServicesDep
from crm_es.inputs.fields import Body
from crm_es.auth.roles import Role
from crm_es.queries.analyst_sql import SqlLimits, run_analyst_sql

router = APIRouter(tags=["analysts"])


class SqlIn(Body):
    sql: str = Field(min_length=1, max_length=100_000, examples=["SELECT stage, count(*) FROM deals GROUP BY ALL"])


class SqlOut(Answer):
    columns: list[str]
    types: list[str] = Field(description="each column's DuckDB type: INTEGER, DECIMAL(20,4), VARCHAR[] …")
    rows: list[list[Any]] = Field(description="JSON-ready: times ISO 8601, decimals and UUIDs as strings")
    truncated: bool = Field(description="the query had more rows than the row limit; these are the first ones")


@router.post("/sql", response_model=SqlOut)
def post_sql(body: SqlIn, cur: ReadCursor, services: ServicesDep, request: Request, caller: Caller) -> Response:
    """One SELECT over the read side's tables (docs/tables.md), run
    read-only. For analysts a person's data (names, e-mails, phones, properties, notes …)
    is null in every column that holds it, and the tables are reached by their names
    alone (`main.contacts` is refused); admins see every value. Writes, several
    statements, files, URLs and settings are refused (403 `sql-read-only` /
    `sql-outside-read-side`); a SQL error is a 422 naming `sql` with DuckDB's message;
    past the time limit, 422 `sql-timeout`. Rows past the row limit are left out
    (`truncated: true`); an answer whose JSON would pass 16 MB, or holding one value
    over 1 MB (by default), is refused as soon as the rows read reach the limit (422
    `sql-answer-too-large`, `sql-cell-too-large`, with `limit_bytes`). `?after=P` waits for the read side to reach
    P first, as on every read; `X-Position` says where it stood."""
    settings = services.settings
    limits = SqlLimits(settings.sql_timeout_seconds, settings.sql_max_rows, settings.sql_max_answer_bytes,
                       settings.sql_max_cell_bytes)
    answer = run_analyst_sql(cur, body.sql, limits, personal_data=caller.role is Role.ADMIN)
    # Encoded here, within the byte limit; X-Position by hand, as the plumbing adds it to GETs only.
    return Response(orjson.dumps(answer.as_dict()), media_type="application/json",
                    headers={"X-Position": str(request.state.read_position)})
