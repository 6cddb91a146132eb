"""GET /app/admin/people: the reps (name, e-mail, team, active or not) and the teams (name,
manager, members), as GET /reps and GET /teams list them (queries/records.py), with the
forms admin.js sends to the JSON API: add a rep, rename, move to a team, deactivate or
reactivate; add a team, add a member. ``?team=`` shows one team's reps, as GET /reps?team=."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.web.guard import read_position
from crm_es.entrypoints.web.params import query_id
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records
from crm_es.queries.sql import LARGEST_PAGE, every_item


async def people_page(request: Request, viewer: Viewer) -> Response:
    team = query_id(request, "team")
    await read_position(request)
    shown = await run_in_threadpool(_people, request.app.state.services, team)
    return page(request, "admin_people.html", viewer, team_id=str(team or ""), **shown)


def _people(services: Any, team: UUID | None) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        if team is not None and records.get_team(cur, team) is None:
            raise NotFound("team", team)
        everyone = every_item(lambda cursor: records.list_reps(cur, limit=LARGEST_PAGE, cursor=cursor))
        teams = every_item(lambda cursor: records.list_teams(cur, limit=LARGEST_PAGE, cursor=cursor))
    reps = [rep for rep in everyone if team is None or _text(rep["team_id"]) == str(team)]
    rep_names = {_text(rep["id"]): rep["name"] for rep in everyone}
    team_names = {_text(t["id"]): t["name"] for t in teams}
    for rep in reps:
        rep["team_name"] = team_names.get(_text(rep["team_id"]))
    for t in teams:  # a team's members are the reps in it now, by name (as GET /teams/{id})
        t["manager_name"] = rep_names.get(_text(t["manager_id"]))
        t["members"] = sorted((r for r in everyone if _text(r["team_id"]) == _text(t["id"])), key=lambda r: r["name"])
    return {"reps": reps, "teams": teams, "everyone": sorted(everyone, key=lambda r: r["name"])}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
