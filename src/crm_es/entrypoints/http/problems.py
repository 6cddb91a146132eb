"""The one place where errors become RFC 9457 problem+json answers."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import IntegrityError, PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from crm_es.aggregates.base import DomainError
from crm_es.entrypoints.http.statuses import status_of
from crm_es.queries.sql import BadCursor
from crm_es.store import StoreUnavailable
from crm_es.store.outage import STORE

log = logging.getLogger("crm_es.entrypoints.http")

PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    """One bad field of a request, named as the client wrote it."""

    model_config = ConfigDict(extra="allow")
    field: str = Field(description="`amount`, `items[3].url`, `query.limit`, `path.deal_id`, `header.if-match`")
    message: str
    type: str | None = Field(None, description="the kind of error (missing, string_too_long …), when a schema found it")


class Problem(BaseModel):
    """Every error answer (RFC 9457), as ``problem()`` below writes it: the standard members,
    then `rule` and the members a rule adds (the field, the current version, the id already
    holding an e-mail …). Clients branch on `rule`, people read `detail`."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="`urn:crm-es:problem:<rule>`", examples=["urn:crm-es:problem:deal-closed"])
    title: str = Field(description="the status's phrase")
    status: int
    detail: str = Field(description="what went wrong, for people")
    instance: str | None = Field(None, description="RFC 9457's; not sent by this service yet")
    rule: str = Field(description="the rule that said no: invalid-field, not-found, version-mismatch, deal-closed …")
    errors: list[FieldError] | None = Field(None, description="each bad field (422; 404 when a field names the record)")
    current_version: int | None = Field(None, description="412: the record's version now")
    field: str | None = Field(None, description="the field a rule is about (409)")
    kind: str | None = Field(None, description="404: the kind of record not found")
    id: str | None = Field(None, description="404: the id not found")
    existing_id: str | None = Field(None, description="409: the record already holding a unique value (an e-mail)")
    role: str | None = Field(None, description="403: the caller's role")
    position: int | None = Field(None, description="503 read-side-behind: where the read side stands")


class ProblemError(Exception):
    """Raised by the HTTP layer itself (a stale read side, a bad header)."""

    def __init__(self, status: int, rule: str, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.rule, self.detail, self.headers, self.extra = status, rule, detail, headers, extra


def problem(
    status: int, rule: str, detail: str, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None
) -> JSONResponse:
    body = {
        **(extra or {}),  # first: an extension member never hides a standard one
        "type": f"urn:crm-es:problem:{rule}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "rule": rule,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    where, *path = loc
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    if where == "body":
        return name or "body"
    return f"{where}.{name}" if name else str(where)


TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
TAGS = ("type", "list")  # the fields that tell a body's kinds apart: an interaction's type, a saved view's list


def untagged(loc: tuple[Any, ...], tags: tuple[str, ...], error: dict[str, Any]) -> tuple[Any, ...]:
    """The location of an error in a body told apart by a tag (an interaction's ``type``, a
    view's ``list``): pydantic names the branch (``call.duration_seconds``), a field the
    client never sent, and puts a wrong or missing tag at the body itself."""
    if error["type"] in TAG_ERRORS:
        return (*loc, str(error.get("ctx", {}).get("discriminator", "type")).strip("'"))
    if len(loc) > 1 and loc[0] in tags:
        return loc[1:]
    return loc


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(400, "malformed-json", "the request body is not valid JSON")
        body = exc.body if isinstance(exc.body, dict) else {}
        tags = tuple(tag for name in TAGS if isinstance(tag := body.get(name), str))  # a tag sent as any other JSON names no branch
        fields = [
            {"field": _field((e["loc"][0], *untagged(tuple(e["loc"][1:]), tags, e))), "message": e["msg"], "type": e["type"]}
            for e in errors
        ]
        names = ", ".join(f["field"] for f in fields)
        return problem(422, "invalid-field", f"invalid field(s): {names}", extra={"errors": fields})

    @app.exception_handler(DomainError)
    async def domain(_: Request, exc: DomainError) -> JSONResponse:
        status = status_of(exc)
        extra = dict(exc.extra)
        field = getattr(exc, "field", None) or extra.pop("field", None)
        if status in (404, 422) and field:  # a missing or invalid field: named in errors
            extra["errors"] = [{"field": field, "message": exc.detail}]
        elif field:
            extra["field"] = field
        return problem(status, exc.rule, exc.detail, extra=extra)

    @app.exception_handler(ProblemError)
    async def own(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.rule, exc.detail, exc.headers, exc.extra)

    @app.exception_handler(BadCursor)
    async def bad_cursor(_: Request, exc: BadCursor) -> JSONResponse:
        return problem(422, "invalid-field", str(exc), extra={"errors": [{"field": "query.cursor", "message": str(exc)}]})

    @app.exception_handler(StoreUnavailable)
    @app.exception_handler(PersistenceError)
    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, IntegrityError):  # not an outage: a race that outlived the retries
            return problem(409, "conflict", "another writer changed this record; try again")
        STORE.failed(exc)  # one line for the whole outage (store/outage.py), not one per answer
        return problem(503, "store-unavailable", "the event store cannot be reached; try again", {"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        rule = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(exc.status_code, "http-error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem(exc.status_code, rule, str(exc.detail), headers)


def allowed_methods(request: Request) -> str:
    """Every method the request's path answers (RFC 9110's Allow). Starlette names only
    those of the first route with that path: `PUT /contacts` would hear `Allow: POST`,
    though `GET /contacts` answers too."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):  # the routers' routes, with their prefixes
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))
