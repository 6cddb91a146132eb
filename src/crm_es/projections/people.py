"""reps and teams."""

from __future__ import annotations

from crm_es.aggregates import Rep, Team
from crm_es.projections.rows import EventRow, Insert, Op, Patch, created, on, stamp


@on(Rep.Added)
def rep_added(e: EventRow) -> list[Op]:
    d = e.data
    return [Insert("reps", {**created(e), "name": d["name"], "email": d["email"], "team_id": d["team_id"]})]


@on(Rep.JoinedTeam)
def rep_joined_team(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "team_id": e.data["team_id"]})]


@on(Team.Formed)
def team_formed(e: EventRow) -> list[Op]:
    return [Insert("teams", {**created(e), "name": e.data["name"], "manager_id": e.data["manager_id"]})]
