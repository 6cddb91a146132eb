"""GET /app/contacts/{id}: the contact's card (fields, tags, roles, lead score and why, open
deals, next step, documents), its timeline newest first with filters by type and period, and
what a person does from it (templates/contact_actions.html): log a call, add a note, schedule
a task, send an e-mail, issue a document and send it — each sent by console.js to the JSON API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import readable, visibility
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.params import path_id
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.entrypoints.web.timeline_part import TimelineFilter, record_timeline
from crm_es.queries import records, tasks
from crm_es.queries.documents import contact_documents
from crm_es.queries.lead_scores import lead_score
from crm_es.queries.names import REPS, names
from crm_es.queries.sql import LARGEST_PAGE, every_item
from crm_es.queries.visibility import Visibility

LOG_INTERACTION = ("POST", "/contacts/{contact_id}/interactions")
PLAN_TASK = ("POST", "/tasks")
WRITE_DOCUMENTS = (("POST", "/documents"), ("POST", "/documents/{document_id}/send"),
                   ("POST", "/contacts/{contact_id}/messages"))


async def contact_page(request: Request, viewer: Viewer) -> Response:
    contact_id = path_id(request, "contact_id")
    chosen = TimelineFilter(request)
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_contact, services, contact_id, chosen, visible, viewer)
    return page(request, "contact.html", viewer, here_path=request.url.path, **shown)


def _contact(services: Any, contact_id: UUID, chosen: TimelineFilter, visible: Visibility,
             viewer: Viewer) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        card, in_reach, _position = records.get_contact_card(cur, contact_id, visible)
        if card is None:
            raise NotFound("contact", contact_id)
        if not in_reach:
            readable(cur, visible, card)  # the 403, worded where every other read words it
        company = records.get_company(cur, card["company_id"]) if card.get("company_id") else None
        score = lead_score(cur, contact_id, None)
        deals = every_item(lambda cursor: records.list_deals(cur, contact=contact_id, status="open", visible=visible,
                                                             limit=LARGEST_PAGE, cursor=cursor))
        people = names(cur, REPS, [card.get("owner_id")])
        in_write_reach = viewer.writes().sees(cur, _text(card.get("owner_id")))
        timeline = record_timeline(services, cur, contact_id, chosen)
        task_types = tasks.activity_types(cur)
    documents = every_item(lambda cursor: contact_documents(services.store, contact_id, limit=LARGEST_PAGE, cursor=cursor))
    return {"contact": card, "company": company, "owner_name": people.get(_text(card.get("owner_id")) or ""),
            "score": score["score"], "score_changes": score["changes"], "deals": deals,
            "may_log_call": in_write_reach and viewer.may(*LOG_INTERACTION),
            "may_plan_task": in_write_reach and viewer.may(*PLAN_TASK), "task_types": task_types,
            "documents": documents, "may_write_documents": in_write_reach and all(viewer.may(*w) for w in WRITE_DOCUMENTS),
            **timeline}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
