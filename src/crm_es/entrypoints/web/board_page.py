"""GET /app/board: the pipeline board, now or as it stood at the end of a past day.

The numbers are the JSON board's own (queries/board.py, with the caller's reach and the
same owner and team filters); the cards add what a person needs to see (company, owner's
name, days in stage, the deal's version for If-Match) from the deals' current rows, read in
one query (queries/board_cards.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.params import query_id, query_moment
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import board, board_cards, records
from crm_es.queries.names import REPS, names
from crm_es.queries.past import Past
from crm_es.queries.segments import list_segments
from crm_es.queries.sql import LARGEST_PAGE, every_item
from crm_es.queries.visibility import Visibility

MOVE = ("POST", "/deals/{deal_id}/stage")
CLOSE = (("POST", "/deals/{deal_id}/won"), ("POST", "/deals/{deal_id}/lost"))
MAX_SEGMENT = 100  # as the JSON board's ?segment=
STALE_DAYS = 30  # a deal with no move and no interaction for this long is marked on its card


def end_of(day: date) -> datetime:
    """A day of the time-travel form as the instant the board is shown at: its last moment, UTC."""
    return datetime.combine(day, time.max, tzinfo=UTC)


async def board_page(request: Request, viewer: Viewer) -> Response:
    pipeline_id = query_id(request, "pipeline")
    owner, team = query_id(request, "owner"), query_id(request, "team")
    segment = request.query_params.get("segment", "").strip() or None
    if segment is not None and len(segment) > MAX_SEGMENT:
        raise InvalidField("query.segment", "invalid_segment")
    as_of, known_at = query_moment(request)
    past = Past(end_of(as_of), end_of(known_at) if known_at else None) if as_of else None
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_board, services, pipeline_id, (owner, team, segment), past, visible, viewer)
    return page(request, "board.html", viewer, as_of=as_of, known_then=known_at is not None,
                as_of_instant=past.as_of.isoformat() if past else "", owner=str(owner or ""), team=str(team or ""),
                segment=segment or "",
                **shown)


def _board(services: Any, pipeline_id: UUID | None, filters: tuple[UUID | None, UUID | None, str | None],
           past: Past | None, visible: Visibility, viewer: Viewer) -> dict[str, Any]:
    owner, team, segment = filters  # as the JSON board takes them: ?owner=&team=&segment=
    with services.read_side.cursor() as cur:
        pipelines = every_item(lambda cursor: records.list_pipelines(cur, limit=LARGEST_PAGE, cursor=cursor))
        if pipeline_id is None and pipelines:
            pipeline_id = UUID(str(pipelines[0]["id"]))
        if pipeline_id is None:
            return {"pipelines": [], "pipeline_id": "", "currency": None, "stages": [], "any_movable": False,
                    "owner_choices": [], "team_choices": [], "segment_choices": []}
        if not records.pipeline_exists(cur, pipeline_id):
            raise NotFound("pipeline", pipeline_id)
        currency = board.board_currency(cur, pipeline_id, past)
        stages = board.get_board(cur, pipeline_id, owner=owner, team=team, segment=segment, currency=currency,
                                 visible=visible, past=past)
        at = past.as_of if past else services.clock.now()
        cards = board_cards.get_board_cards(cur, (deal["id"] for stage in stages for deal in stage["deals"]), at)
        segment_choices = list_segments(cur)
        owners = names(cur, REPS, (deal["owner_id"] for stage in stages for deal in stage["deals"]))
        owner_choices = board_cards.list_owner_choices(cur, visible)
        team_choices = board_cards.list_team_choices(cur, visible)
        movable = _movable(cur, viewer, past)
        for stage in stages:
            # The totals add up the deals in the board's currency only (queries/board.py): say
            # how many others the column holds, rather than let a total look like all of them.
            stage["other_currencies"] = sum(1 for deal in stage["deals"] if deal["currency"] != currency)
            stage["deals"] = [_card(deal, stage["name"], cards.get(str(deal["id"]), {}), owners, movable, at)
                              for deal in stage["deals"]]
    any_movable = any(deal["movable"] for stage in stages for deal in stage["deals"])
    return {"pipelines": pipelines, "pipeline_id": str(pipeline_id), "currency": currency, "stages": stages,
            "any_movable": any_movable, "owner_choices": owner_choices, "team_choices": team_choices,
            "segment_choices": segment_choices}


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
    # Stale: nothing has happened to the deal (no move, no interaction about it) for STALE_DAYS.
    activity = details.get("last_activity_at")
    last = max(entered, datetime.fromisoformat(activity)) if activity else entered
    return {
        **deal, "stage": stage, "version": details.get("version"), "company": details.get("company_name"),
        "owner_name": owners.get(str(deal["owner_id"])) if deal["owner_id"] else None,
        "days_in_stage": max((at - entered).days, 0),
        "expected_close": expected, "overdue": expected is not None and expected < at.date(),
        "contact_id": details.get("contact_id"),
        "next_step": details.get("next_step"), "next_step_due": details.get("next_step_due"),
        "quiet_days": (at - last).days, "stale": (at - last).days >= STALE_DAYS,
        "movable": "move" in may, "closable": "close" in may,
    }
