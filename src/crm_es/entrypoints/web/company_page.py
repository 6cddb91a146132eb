"""GET /app/companies/{id}: the account (sector, revenue, its custom properties), its
contacts and its deals within the caller's reach, each linking to its page. Read as
GET /companies/{id}, GET /contacts?company= and GET /deals?company= read them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.params import path_id
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records
from crm_es.queries.sql import LARGEST_PAGE, every_item
from crm_es.queries.visibility import Visibility


async def company_page(request: Request, viewer: Viewer) -> Response:
    company_id = path_id(request, "company_id")
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_company, services, company_id, visible)
    return page(request, "company.html", viewer, **shown)


def _company(services: Any, company_id: UUID, visible: Visibility) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        company = records.get_company(cur, company_id)
        if company is None:
            raise NotFound("company", company_id)
        contacts = every_item(lambda cursor: records.list_contacts(cur, company=company_id, visible=visible,
                                                                   limit=LARGEST_PAGE, cursor=cursor))
        deals = every_item(lambda cursor: records.list_deals(cur, company=company_id, visible=visible,
                                                             limit=LARGEST_PAGE, cursor=cursor))
    return {"company": company, "contacts": contacts, "deals": deals}
