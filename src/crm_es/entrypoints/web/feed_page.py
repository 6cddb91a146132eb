"""GET /app/feed: the news feed (F14) — GET /feed's own query with the caller's reach,
newest first, a page at a time (``?cursor=``: the API's ``next_cursor``), each item linked
to the contact it is about (a deal's: the first contact it names)."""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import timeline as timelines
from crm_es.queries.feed_links import first_contacts
from crm_es.queries.names import REPS, names
from crm_es.queries.sql import BadCursor
from crm_es.queries.visibility import Visibility

PAGE, LARGEST = 50, 1000  # the API's default page and its largest (?limit=)
REP_ACTOR = "rep:"


async def feed_page(request: Request, viewer: Viewer) -> Response:
    assert viewer.principal is not None  # not a public page
    cursor = request.query_params.get("cursor", "").strip() or None
    limit = _limit(request)
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_feed, services, cursor, limit, visible)
    return page(request, "feed.html", viewer, cursor=cursor, limit=limit, **shown)


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", "").strip()
    if not text:
        return PAGE
    if not text.isdigit() or not 1 <= int(text) <= LARGEST:
        raise InvalidField("query.limit", "feed_invalid_limit")
    return int(text)


def _feed(services: Any, cursor: str | None, limit: int, visible: Visibility) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        try:
            found = timelines.feed(cur, services.store, limit=limit, cursor=cursor, visible=visible)
        except BadCursor:
            raise InvalidField("query.cursor", "feed_invalid_cursor") from None
        deals = [str(item["record_id"]) for item in found.items if item["record_type"] == "deal"]
        contacts = first_contacts(cur, deals, visible)
        actors = [str(i["actor"])[len(REP_ACTOR):] for i in found.items if str(i["actor"]).startswith(REP_ACTOR)]
        people = names(cur, REPS, actors)
    for item in found.items:
        record = str(item["record_id"])
        item["contact_id"] = record if item["record_type"] == "contact" else contacts.get(record)
        actor = str(item["actor"])
        item["actor_name"] = people.get(actor[len(REP_ACTOR):], actor) if actor.startswith(REP_ACTOR) else actor
    return {"items": found.items, "next_cursor": found.next_cursor}
