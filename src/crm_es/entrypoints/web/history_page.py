"""A contact or a deal as it was (GET /app/{contacts|deals}/{id}/history) and its export
as a download (…/export), for auditors.

Both read the event store, not the read side, through the functions the JSON API and
`crm-es audit` use (crm_es.audit.history.record_then, crm_es.audit.export.export_record):
the page's state and events are GET /contacts/{id}/history's, and the download is the
file `crm-es audit export` writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates import Contact, Deal
from crm_es.aggregates.base import Aggregate, NotFound
from crm_es.audit.export import export_record
from crm_es.audit.history import record_then
from crm_es.entrypoints.web.guard import InvalidField
from crm_es.entrypoints.web.params import path_id
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries.names import REPS, names

KINDS: dict[str, type[Aggregate]] = {"contact": Contact, "deal": Deal}
REP_ACTOR = "rep:"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def moment(request: Request, name: str) -> datetime | None:
    """A moment of the form: ``2026-03-01T09:30`` (the form's own input, read as UTC),
    the same with seconds or an offset (a link), or a day alone (its last moment, UTC, as
    the board reads one)."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        if _DAY.match(text):
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"query.{name}", "audit_invalid_moment") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def record_id(request: Request, kind: str) -> UUID:
    return path_id(request, f"{kind}_id")


async def contact_history(request: Request, viewer: Viewer) -> Response:
    return await _history_page(request, viewer, "contact")


async def deal_history(request: Request, viewer: Viewer) -> Response:
    return await _history_page(request, viewer, "deal")


async def contact_export(request: Request, viewer: Viewer) -> Response:
    return await _export(request, "contact")


async def deal_export(request: Request, viewer: Viewer) -> Response:
    return await _export(request, "deal")


async def _history_page(request: Request, viewer: Viewer, kind: str) -> Response:
    the_id = record_id(request, kind)
    as_of, known_at = moment(request, "as_of"), moment(request, "known_at")
    request.state.read_position = request.app.state.services.projector.position  # the log is read, not the read side
    shown = await run_in_threadpool(_history, request.app.state.services, kind, the_id, as_of, known_at)
    return page(request, "history.html", viewer, kind=kind, as_of=as_of, known_at=known_at,
                as_of_field=_field_value(as_of), known_at_field=_field_value(known_at), **shown)


def _history(services: Any, kind: str, the_id: UUID, as_of: datetime | None, known_at: datetime | None) -> dict[str, Any]:
    then = record_then(services.store, KINDS[kind], the_id, as_of=as_of, known_at=known_at)
    if then is None:
        raise NotFound(kind, the_id)
    every = record_then(services.store, KINDS[kind], the_id) or then  # every event, to say which are left out and why
    made_it = {event["version"] for event in then["events"]}
    reps = [str(e["actor"])[len(REP_ACTOR):] for e in every["events"] if str(e["actor"]).startswith(REP_ACTOR)]
    with services.read_side.cursor() as cur:
        people = names(cur, REPS, reps)
    events = [{**event, "actor_name": _actor(event["actor"], people),
               "absent": None if event["version"] in made_it else _why_absent(event, as_of, known_at),
               "summary": json.dumps(event["data"], ensure_ascii=False, sort_keys=True)}
              for event in every["events"]]
    state = then["state"] or {}
    return {"record": then, "fields": [(name, value, json.dumps(value, sort_keys=True)) for name, value in state.items()],
            "events": events, "left_out": sum(1 for event in events if event["absent"])}


def _why_absent(event: dict[str, Any], as_of: datetime | None, known_at: datetime | None) -> str:
    """Why an event is not in the state shown (a key of the catalog)."""
    if known_at is not None and datetime.fromisoformat(event["recorded_at"]) > known_at:
        return "absent_recorded_later"
    if as_of is not None and datetime.fromisoformat(event["occurred_at"]) > as_of:
        return "absent_happened_later"
    return "absent_before_creation"  # the record had not been created yet then (history.visible)


def _actor(actor: Any, people: dict[str, str]) -> str:
    text = str(actor)
    return people.get(text[len(REP_ACTOR):], text) if text.startswith(REP_ACTOR) else text


def _field_value(value: datetime | None) -> str:
    """A moment as the form's datetime-local input shows it (UTC, to the second)."""
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


async def _export(request: Request, kind: str) -> Response:
    the_id = record_id(request, kind)
    request.state.read_position = request.app.state.services.projector.position
    lines = await run_in_threadpool(_export_lines, request.app.state.services.store, kind, the_id)
    if lines is None:
        raise NotFound(kind, the_id)
    # The bytes `crm-es audit export` writes: one JSON object a line.
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
    return Response(body, media_type="application/x-ndjson", headers={
        "Content-Disposition": f'attachment; filename="{kind}-{the_id}.jsonl"', "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff"})


def _export_lines(store: Any, kind: str, the_id: UUID) -> list[dict[str, Any]] | None:
    """The record's export, None unless a record of this kind has this id (export_record
    alone would export any record's events under a contact's address)."""
    events = store.events(the_id, lte=1)
    if not events or not KINDS[kind].owns(events[0]):
        return None
    return export_record(store, the_id)
