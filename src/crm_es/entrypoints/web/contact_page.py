"""GET /app/contacts/{id}: the contact's card and its timeline, newest first, with the
form that logs a call (sent by console.js to POST /contacts/{id}/interactions)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.auth.roles import write_reach
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records
from crm_es.queries import timeline as timelines
from crm_es.queries.lead_scores import lead_score
from crm_es.queries.names import REPS, names
from crm_es.queries.visibility import Visibility

LOG_CALL = ("POST", "/contacts/{contact_id}/interactions")
ALL = 1000
REP_ACTOR = "rep:"


async def contact_page(request: Request, viewer: Viewer) -> Response:
    try:
        contact_id = UUID(request.path_params["contact_id"])
    except ValueError:
        raise InvalidField("path.contact_id", "invalid_id") from None
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_contact, services, contact_id, visible, viewer)
    return page(request, "contact.html", viewer, **shown)


def _contact(services: Any, contact_id: UUID, visible: Visibility, viewer: Viewer) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        card, in_reach, _position = records.get_contact_card(cur, contact_id, visible)
        if card is None:
            raise NotFound("contact", contact_id)
        if not in_reach:
            raise ProblemError(403, "not-your-record", "this record belongs to someone outside this key's reach")
        company = records.get_company(cur, card["company_id"]) if card.get("company_id") else None
        score = lead_score(cur, contact_id, None)["score"]
        events = _newest_first(services.store, contact_id)
        reps = [e["actor"][len(REP_ACTOR):] for e in events if str(e["actor"]).startswith(REP_ACTOR)]
        people = names(cur, REPS, [*reps, card.get("owner_id")])
        writes = viewer.principal is not None and viewer.may(*LOG_CALL) and Visibility(
            write_reach(viewer.principal.role), viewer.principal.rep_id).sees(cur, _text(card.get("owner_id")))
    for event in events:
        actor = str(event["actor"])
        event["actor_name"] = people.get(actor[len(REP_ACTOR):], actor) if actor.startswith(REP_ACTOR) else actor
        event["shown"] = _shown_fields(event["data"])
    return {"contact": card, "company": company, "owner_name": people.get(_text(card.get("owner_id")) or ""),
            "score": score, "events": events, "may_log_call": writes}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _newest_first(store: Any, contact_id: UUID) -> list[dict[str, Any]]:
    """Every event on the contact (the timeline query, page after page), newest first."""
    items, cursor = [], None
    while True:
        found = timelines.timeline(store, contact_id, limit=ALL, cursor=cursor)
        items.extend(found.items)
        if not found.next_cursor:
            return items[::-1]
        cursor = found.next_cursor


SHOWN = ("stage", "notes", "text", "subject", "outcome", "duration_seconds", "duration_minutes", "title", "status", "reason")


def _shown_fields(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The few fields of an event a person reads at a glance (the rest stays in the API)."""
    return [(name, data[name]) for name in SHOWN if data.get(name) not in (None, "", [], {})][:4]
