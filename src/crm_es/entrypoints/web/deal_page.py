"""GET /app/deals/{id}: the deal (stage, status, amount, owner, company, contacts, source,
expected close, the reason it was lost, next step) and its timeline, newest first, with the
same filters as a contact's. Read as GET /deals/{id} and GET /deals/{id}/timeline read it."""

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
from crm_es.queries import records
from crm_es.queries.visibility import Visibility


async def deal_page(request: Request, viewer: Viewer) -> Response:
    deal_id = path_id(request, "deal_id")
    chosen = TimelineFilter(request)
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_deal, services, deal_id, chosen, visible)
    return page(request, "deal.html", viewer, here_path=request.url.path, **shown)


def _deal(services: Any, deal_id: UUID, chosen: TimelineFilter, visible: Visibility) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        deal = readable(cur, visible, records.get_deal(cur, deal_id))  # a 403 outside the caller's reach
        if deal is None:
            raise NotFound("deal", deal_id)
        company = records.get_company(cur, deal["company_id"]) if deal.get("company_id") else None
        pipeline = records.get_pipeline(cur, deal["pipeline_id"])
        # The contacts' cards as the contacts list shows them (a forgotten person's name is gone).
        contacts = [records.get_contact(cur, contact_id) for contact_id in deal.get("contact_ids") or []]
        timeline = record_timeline(services, cur, deal_id, chosen)
    return {"deal": deal, "company": company, "pipeline": pipeline, "contacts": [c for c in contacts if c], **timeline}
