"""Shared dependencies of the routers, as Annotated aliases."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Annotated

import duckdb
from fastapi import Depends, Header, Query, Request
from pydantic import AwareDatetime

from crm_es.api.auth import Caller
from crm_es.api.problems import ProblemError
from crm_es.auth.ownership import ownership_of
from crm_es.bootstrap import Services
from crm_es.commands import CommandContext

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(services)]


async def command_context(
    request: Request,
    services: ServicesDep,
    caller: Caller,
    if_match: Annotated[str | None, Header(description='"N": fail with 412 unless the record is at version N')] = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=200, description="a retry with the same key and body returns the first answer")
    ] = None,
) -> CommandContext:
    expected = None
    if if_match is not None and if_match.strip() != "*":
        match = _ETAG.match(if_match)
        if not match:
            raise ProblemError(422, "invalid-field", 'If-Match must be an ETag like "3"',
                               errors=[{"field": "header.if-match", "message": 'expected "N"'}])
        expected = int(match.group(1))
    body = await request.body()
    fingerprint = hashlib.sha256(b"\n".join([request.method.encode(), request.url.path.encode(), body])).hexdigest()
    return services.context(
        actor=caller.actor,
        ownership=ownership_of(caller, services.store),
        correlation_id=request.state.request_id,
        expected_version=expected,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )


Ctx = Annotated[CommandContext, Depends(command_context)]


def read_cursor(
    request: Request,
    services: ServicesDep,
    after: Annotated[int | None, Query(ge=0, description="wait until the read side has reached this log position")] = None,
    x_after_position: Annotated[int | None, Header(ge=0)] = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-side cursor, once the read side has caught up with ``after`` (read-your-writes)."""
    wanted = after if after is not None else x_after_position
    if wanted is not None and not services.projector.wait_for(wanted, services.settings.read_wait_seconds):
        raise ProblemError(
            503, "read-side-behind",
            f"the read side is at position {services.projector.position}, not yet {wanted}; retry shortly",
            {"Retry-After": "1"}, position=services.projector.position,
        )
    # Taken before the query runs, so the data is at least this fresh.
    request.state.read_position = services.projector.position
    with services.read_side.cursor() as cursor:
        yield cursor


ReadCursor = Annotated[duckdb.DuckDBPyConnection, Depends(read_cursor)]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
# The two times of a report on the past (see crm_es.queries.past).
AsOf = Annotated[AwareDatetime | None, Query(description="business time: the world as it was then, as known now")]
KnownAt = Annotated[AwareDatetime | None, Query(description="recorded time: only what had been recorded by then")]
