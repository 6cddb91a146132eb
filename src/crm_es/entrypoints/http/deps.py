"""Shared dependencies of the routers, as Annotated aliases."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Annotated

import duckdb
from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool

from crm_es.entrypoints.http.auth import Caller
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.inputs.fields import Instant
from crm_es.commands.ownership import ownership_of
from crm_es.bootstrap import Services
from crm_es.commands import CommandContext
from crm_es.queries.sql import LARGEST_PAGE

# What If-Match takes, in /openapi.json too: "N" (the ETag of a read), W/"N", N, or *;
# spaces and tabs around it (RFC 9110's OWS), never \s, which the document's regex dialect
# and the server's would each read otherwise.
IF_MATCH = r'^[ \t]*(?:\*|(?:W/)?"[0-9]{1,18}"|[0-9]{1,18})[ \t]*$'
_VERSION = re.compile(r"[0-9]+")


async def services(request: Request) -> Services:
    # async: a dependency declared with plain ``def`` is run on the thread pool, a hop
    # that costs more than this whole function (a GIL handover each way).
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


async def command_context(
    request: Request,
    services: ServicesDep,
    caller: Caller,
    if_match: Annotated[str | None, Header(min_length=1, pattern=IF_MATCH,
                                           description='"N": fail with 412 unless the record is at version N')] = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a retry with the same key and body returns the first answer")
    ] = None,
) -> CommandContext:
    # The header's pattern was checked (422 naming header.if-match): only the digits are left to read.
    version = _VERSION.search(if_match) if if_match is not None else None
    expected = int(version.group()) if version else None
    body = await request.body()
    fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.url.path.encode(), body])).hexdigest()
    return services.context(
        actor=caller.actor,
        ownership=ownership_of(caller, services.store, services.settings.rep_reads),
        correlation_id=request.state.request_id,
        expected_version=expected,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )


Ctx = Annotated[CommandContext, Depends(command_context)]


AFTER = ("wait (up to 5 s, then 503) until the read side has reached this log position, one a command "
         "answered; a position beyond the end of the log is a 422 at once")


async def read_cursor(
    request: Request,
    services: ServicesDep,
    after: Annotated[int | None, Query(ge=0, description=AFTER)] = None,
    x_after_position: Annotated[int | None, Header(ge=0, description="as ?after=, for clients that send a header")] = None,
) -> AsyncIterator[duckdb.DuckDBPyConnection]:
    """A read-side cursor, once the read side has caught up with ``after`` (read-your-writes).
    On the event loop (no thread pool hop) unless there is a position to wait for."""
    wanted = after if after is not None else x_after_position
    if wanted is not None and wanted > services.projector.position:
        await run_in_threadpool(_caught_up_with, services, wanted, "query.after" if after is not None else "header.x-after-position")
    # Taken before the query runs, so the data is at least this fresh.
    request.state.read_position = services.projector.position
    with services.read_side.cursor() as cursor:
        yield cursor


def _caught_up_with(services: Services, wanted: int, field: str) -> None:
    _within_the_log(services, wanted, field)
    if not services.projector.wait_for(wanted, services.settings.read_wait_seconds):
        raise ProblemError(
            503, "read-side-behind",
            f"the read side is at position {services.projector.position}, not yet {wanted}; retry shortly",
            {"Retry-After": "1"}, position=services.projector.position,
        )


def _within_the_log(services: Services, wanted: int, field: str) -> None:
    """A position no write has reached yet cannot be waited for: a 422 at once, rather
    than the whole wait and a 503 that a retry would only repeat."""
    head = services.store.max_position()
    if wanted > head:
        message = f"position {wanted} is beyond the event log, which ends at {head}: send a position a command answered"
        raise ProblemError(422, "invalid-field", message, errors=[{"field": field, "message": message}])


ReadCursor = Annotated[duckdb.DuckDBPyConnection, Depends(read_cursor)]
Limit = Annotated[int, Query(ge=1, le=LARGEST_PAGE, description="page size")]
# The two times of a report on the past (see crm_es.queries.past).
AsOf = Annotated[Instant | None, Query(description="business time: the world as it was then, as known now")]
KnownAt = Annotated[Instant | None, Query(description="recorded time: only what had been recorded by then")]
