"""The outbox page (GET /app/admin/outbox): how many messages are in each state and the
latest ones, newest first, paged (?cursor=) and filtered by state (?status=). It asks the
JSON route's own function (GET /outbox, routers/outbox.py), so its counts are the API's."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.message import STATUSES
from crm_es.entrypoints.http.routers.outbox import list_outbox
from crm_es.entrypoints.web.guard import InvalidField
from crm_es.entrypoints.web.i18n import language
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.entrypoints.web.words.admin_ops import OUTBOX_STATES
from crm_es.queries.sql import BadCursor

PAGE_SIZE = 50  # the API's default page


async def outbox_page(request: Request, viewer: Viewer) -> Response:
    status = request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidField("query.status", "ops_invalid_state")
    cursor = request.query_params.get("cursor") or None
    services = request.app.state.services
    try:
        shown = await run_in_threadpool(list_outbox, services, status, PAGE_SIZE, cursor)
    except BadCursor:
        raise InvalidField("query.cursor", "ops_invalid_cursor") from None
    chosen = {"status": status} if status else {}
    return page(request, "admin_outbox.html", viewer, outbox=shown, chosen_state=status, states=STATUSES,
                state_names=OUTBOX_STATES[language(request)],
                first_page=None if cursor is None else _address(chosen),
                next_page=_address({**chosen, "cursor": shown["next_cursor"]}) if shown["next_cursor"] else None)


def _address(query: dict[str, str]) -> str:
    return "/app/admin/outbox" + (f"?{urlencode(query)}" if query else "")
