"""GET /app/contacts/{id}: the contact's card and its timeline, newest first, with the
form that logs a call (sent by console.js to POST /contacts/{id}/interactions)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import readable, visibility
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records
from crm_es.queries import timeline as timelines
from crm_es.queries.lead_scores import lead_score
from crm_es.queries.names import REPS, names
from crm_es.queries.sql import LARGEST_PAGE, every_item
from crm_es.queries.visibility import Visibility

LOG_CALL = ("POST", "/contacts/{contact_id}/interactions")
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
            readable(cur, visible, card)  # the 403, worded where every other read words it
        company = records.get_company(cur, card["company_id"]) if card.get("company_id") else None
        score = lead_score(cur, contact_id, None)["score"]
        events = every_item(lambda cursor: timelines.timeline(services.store, contact_id, limit=LARGEST_PAGE,
                                                               cursor=cursor))[::-1]  # newest first
        reps = [e["actor"][len(REP_ACTOR):] for e in events if str(e["actor"]).startswith(REP_ACTOR)]
        people = names(cur, REPS, [*reps, card.get("owner_id")])
        writes = viewer.may(*LOG_CALL) and viewer.writes().sees(cur, _text(card.get("owner_id")))
    for event in events:
        actor = str(event["actor"])
        event["actor_name"] = people.get(actor[len(REP_ACTOR):], actor) if actor.startswith(REP_ACTOR) else actor
        event["shown"] = _shown_fields(event["data"])
    return {"contact": card, "company": company, "owner_name": people.get(_text(card.get("owner_id")) or ""),
            "score": score, "events": events, "may_log_call": writes}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


SHOWN = ("stage", "notes", "text", "subject", "outcome", "duration_seconds", "duration_minutes", "title", "status", "reason")


def _shown_fields(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The few fields of an event a person reads at a glance (the rest stays in the API)."""
    return [(name, data[name]) for name in SHOWN if data.get(name) not in (None, "", [], {})][:4]
