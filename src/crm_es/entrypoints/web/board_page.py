"""GET /app/board: the pipeline board, now or as it stood at the end of a past day.

The numbers are the JSON board's own (queries/board.py, with the caller's reach); the cards
add what a person needs to see (company, owner's name, days in stage, the deal's version
for If-Match) from the deals' current rows (queries/records.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.auth.roles import write_reach
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import board, records
from crm_es.queries.names import REPS, names
from crm_es.queries.past import Past
from crm_es.queries.visibility import EVERYONE, Visibility

MOVE = ("POST", "/deals/{deal_id}/stage")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ALL = 1000  # the largest page a list query gives: read page after page


def end_of(day: date) -> datetime:
    """A day of the time-travel form as the instant the board is shown at: its last moment, UTC."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def _day(request: Request, name: str) -> date | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    if not _DAY.match(text):
        raise InvalidField(f"query.{name}", "invalid_date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"query.{name}", "invalid_date") from None


def _pipeline(request: Request) -> UUID | None:
    text = request.query_params.get("pipeline", "").strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InvalidField("query.pipeline", "invalid_id") from None


async def board_page(request: Request, viewer: Viewer) -> Response:
    pipeline_id = _pipeline(request)
    as_of, known_at = _day(request, "as_of"), _day(request, "known_at")
    if request.query_params.get("known_at_then") and as_of is not None:
        known_at = as_of  # "as we knew it then"
    if as_of is None and known_at is not None:
        as_of = known_at
    past = Past(end_of(as_of), end_of(known_at) if known_at else None) if as_of else None
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_board, services, pipeline_id, past, visible, viewer)
    return page(request, "board.html", viewer, as_of=as_of, known_then=known_at is not None,
                as_of_instant=past.as_of.isoformat() if past else "", **shown)


def _board(services: Any, pipeline_id: UUID | None, past: Past | None, visible: Visibility,
           viewer: Viewer) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        pipelines = _all(lambda cursor: records.list_pipelines(cur, limit=ALL, cursor=cursor))
        if pipeline_id is None and pipelines:
            pipeline_id = UUID(str(pipelines[0]["id"]))
        if pipeline_id is None:
            return {"pipelines": [], "pipeline_id": "", "currency": None, "stages": [], "any_movable": False}
        if not records.pipeline_exists(cur, pipeline_id):
            raise NotFound("pipeline", pipeline_id)
        currency = board.board_currency(cur, pipeline_id, past)
        stages = board.get_board(cur, pipeline_id, currency=currency, visible=visible, past=past)
        cards = _card_details(cur, pipeline_id, past)
        owners = names(cur, REPS, (deal["owner_id"] for stage in stages for deal in stage["deals"]))
        movable = _movable(cur, viewer, past)
        now = services.clock.now()
        for stage in stages:
            # The totals add up the deals in the board's currency only (queries/board.py): say
            # how many others the column holds, rather than let a total look like all of them.
            stage["other_currencies"] = sum(1 for deal in stage["deals"] if deal["currency"] != currency)
            stage["deals"] = [_card(deal, stage["name"], cards.get(str(deal["id"]), {}), owners, movable,
                                    past.as_of if past else now) for deal in stage["deals"]]
    any_movable = any(deal["movable"] for stage in stages for deal in stage["deals"])
    return {"pipelines": pipelines, "pipeline_id": str(pipeline_id), "currency": currency, "stages": stages,
            "any_movable": any_movable}


def _all(read: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        found = read(cursor)
        items.extend(found.items)
        if not found.next_cursor:
            return items
        cursor = found.next_cursor


def _card_details(cur: Any, pipeline_id: UUID, past: Past | None) -> dict[str, dict[str, Any]]:
    """The deals' current rows (version, company, contacts, expected close), by id. In the
    past, the deals closed since are among them: every deal of the pipeline. The board has
    already kept only the deals in the caller's reach; these only fill in its cards."""
    status = None if past else "open"
    deals = _all(lambda cursor: records.list_deals(cur, pipeline=pipeline_id, status=status, limit=ALL, cursor=cursor,
                                                   visible=EVERYONE))
    companies: dict[str, str | None] = {}
    for deal in deals:
        company_id = deal.get("company_id")
        if company_id is not None and str(company_id) not in companies:
            company = records.get_company(cur, company_id)
            companies[str(company_id)] = company["name"] if company else None
        deal["company_name"] = companies.get(str(company_id)) if company_id is not None else None
    return {str(deal["id"]): deal for deal in deals}


def _movable(cur: Any, viewer: Viewer, past: Past | None) -> Any:
    """Whether the viewer may move a deal of this owner: never in the past; else when their
    role may move deals and the owner is within the reach they write in."""
    if past is not None or viewer.principal is None or not viewer.may(*MOVE):
        return lambda _owner: False
    writes = Visibility(write_reach(viewer.principal.role), viewer.principal.rep_id)
    known: dict[str | None, bool] = {}

    def movable(owner_id: str | None) -> bool:
        if owner_id not in known:
            known[owner_id] = writes.sees(cur, owner_id)
        return known[owner_id]

    return movable


def _card(deal: dict[str, Any], stage: str, details: dict[str, Any], owners: dict[str, str], movable: Any,
          at: datetime) -> dict[str, Any]:
    entered = datetime.fromisoformat(deal["stage_entered_at"])
    expected = details.get("expected_close")
    if isinstance(expected, str):
        expected = date.fromisoformat(expected)
    contacts = details.get("contact_ids") or []
    return {
        **deal, "stage": stage, "version": details.get("version"), "company": details.get("company_name"),
        "owner_name": owners.get(str(deal["owner_id"])) if deal["owner_id"] else None,
        "days_in_stage": max((at - entered).days, 0),
        "expected_close": expected, "overdue": expected is not None and expected < at.date(),
        "contact_id": str(contacts[0]) if contacts else None,
        "movable": movable(str(deal["owner_id"]) if deal["owner_id"] else None),
    }
