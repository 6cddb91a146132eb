"""GET /app/board: the pipeline board, now or as it stood at the end of a past day.

The numbers are the JSON board's own (queries/board.py, with the caller's reach and the
same owner and team filters); the cards add what a person needs to see (company, owner's
name, days in stage, the deal's version for If-Match) from the deals' current rows, read in
one query (queries/board_cards.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import board, board_cards, records
from crm_es.queries.names import REPS, names
from crm_es.queries.past import Past
from crm_es.queries.sql import LARGEST_PAGE, every_item
from crm_es.queries.visibility import Visibility

MOVE = ("POST", "/deals/{deal_id}/stage")
CLOSE = (("POST", "/deals/{deal_id}/won"), ("POST", "/deals/{deal_id}/lost"))
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def _id(request: Request, name: str) -> UUID | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InvalidField(f"query.{name}", "invalid_id") from None


async def board_page(request: Request, viewer: Viewer) -> Response:
    pipeline_id = _id(request, "pipeline")
    owner, team = _id(request, "owner"), _id(request, "team")
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
    shown = await run_in_threadpool(_board, services, pipeline_id, (owner, team), past, visible, viewer)
    return page(request, "board.html", viewer, as_of=as_of, known_then=known_at is not None,
                as_of_instant=past.as_of.isoformat() if past else "", owner=str(owner or ""), team=str(team or ""),
                **shown)


def _board(services: Any, pipeline_id: UUID | None, filters: tuple[UUID | None, UUID | None], past: Past | None,
           visible: Visibility, viewer: Viewer) -> dict[str, Any]:
    owner, team = filters  # as the JSON board takes them: ?owner=&team=
    with services.read_side.cursor() as cur:
        pipelines = every_item(lambda cursor: records.list_pipelines(cur, limit=LARGEST_PAGE, cursor=cursor))
        if pipeline_id is None and pipelines:
            pipeline_id = UUID(str(pipelines[0]["id"]))
        if pipeline_id is None:
            return {"pipelines": [], "pipeline_id": "", "currency": None, "stages": [], "any_movable": False,
                    "owner_choices": [], "team_choices": []}
        if not records.pipeline_exists(cur, pipeline_id):
            raise NotFound("pipeline", pipeline_id)
        currency = board.board_currency(cur, pipeline_id, past)
        stages = board.get_board(cur, pipeline_id, owner=owner, team=team, currency=currency, visible=visible, past=past)
        cards = board_cards.get_board_cards(cur, (deal["id"] for stage in stages for deal in stage["deals"]))
        owners = names(cur, REPS, (deal["owner_id"] for stage in stages for deal in stage["deals"]))
        owner_choices = board_cards.list_owner_choices(cur, visible)
        team_choices = board_cards.list_team_choices(cur, visible)
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
            "any_movable": any_movable, "owner_choices": owner_choices, "team_choices": team_choices}


def _movable(cur: Any, viewer: Viewer, past: Past | None) -> Any:
    """What the viewer may do to a deal of this owner: ``{"move", "close"}`` (won or lost),
    some or none of them. Nothing in the past; else what their role may call, on the deals
    whose owner is within the reach they write in."""
    may = {what for what, allowed in (("move", viewer.may(*MOVE)), ("close", all(viewer.may(*c) for c in CLOSE)))
           if allowed}
    if past is not None or viewer.principal is None or not may:
        return lambda _owner: frozenset()
    writes = viewer.writes()
    known: dict[str | None, bool] = {}

    def movable(owner_id: str | None) -> frozenset[str]:
        if owner_id not in known:
            known[owner_id] = writes.sees(cur, owner_id)
        return frozenset(may) if known[owner_id] else frozenset()

    return movable


def _card(deal: dict[str, Any], stage: str, details: dict[str, Any], owners: dict[str, str], movable: Any,
          at: datetime) -> dict[str, Any]:
    entered = datetime.fromisoformat(deal["stage_entered_at"])
    expected = details.get("expected_close")
    if isinstance(expected, str):
        expected = date.fromisoformat(expected)
    may = movable(str(deal["owner_id"]) if deal["owner_id"] else None)
    return {
        **deal, "stage": stage, "version": details.get("version"), "company": details.get("company_name"),
        "owner_name": owners.get(str(deal["owner_id"])) if deal["owner_id"] else None,
        "days_in_stage": max((at - entered).days, 0),
        "expected_close": expected, "overdue": expected is not None and expected < at.date(),
        "contact_id": details.get("contact_id"),
        "movable": "move" in may, "closable": "close" in may,
    }
