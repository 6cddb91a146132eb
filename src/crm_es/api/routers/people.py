"""/reps and /teams."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from crm_es.api.deps import Ctx, Limit, ReadCursor
from crm_es.api.respond import answer, found
from crm_es.api.schemas import Body, CommandAnswer, PageOut, QuotaCreate, RepCreate, TeamCreate, TeamMemberAdd
from crm_es.commands import execute
from crm_es.commands.documents import SetSignature, set_signature
from crm_es.commands.people import (
    AddRep, AddTeamMember, FormTeam, SetQuota, add_rep, add_team_member, form_team, set_quota,
)
from crm_es.queries import records

router = APIRouter(tags=["reps and teams"])


@router.post("/reps", status_code=201, response_model=CommandAnswer)
def post_rep(body: RepCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(add_rep, AddRep(body.name, body.email, body.team_id), ctx))


@router.get("/reps", response_model=PageOut)
def get_reps(cur: ReadCursor, team: UUID | None = None, q: str | None = None, limit: Limit = 50, cursor: str | None = None) -> Any:
    return records.list_reps(cur, team=team, q=q, limit=limit, cursor=cursor)


@router.get("/reps/{rep_id}")
def get_rep(rep_id: UUID, cur: ReadCursor, response: Response) -> dict[str, Any]:
    return found(response, records.get_rep(cur, rep_id), "rep", rep_id)


@router.post("/reps/{rep_id}/quotas", status_code=201, response_model=CommandAnswer)
def post_quota(rep_id: UUID, body: QuotaCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    """The rep's sales target for [period_start, period_end); a new one for the same period
    replaces it (the same one again writes nothing: 200). Admins, and managers for their team's reps."""
    command = SetQuota(rep_id, body.period_start, body.period_end, body.amount, body.currency, body.occurred_at)
    return answer(response, execute(set_quota, command, ctx))


class SignatureIn(Body):
    signature: Annotated[str, Field(min_length=1, max_length=2000, description="as the rep signs: name, title, phone …")]


@router.put("/reps/{rep_id}/signature", response_model=CommandAnswer)
def put_signature(rep_id: UUID, body: SignatureIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """The signature the rep's quotes, contracts and invoices carry (F25), from now on: a rep
    sets their own, a manager their team's, admins anyone's. The same again writes nothing."""
    return answer(response, execute(set_signature, SetSignature(rep_id, body.signature), ctx))


@router.post("/teams", status_code=201, response_model=CommandAnswer)
def post_team(body: TeamCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(form_team, FormTeam(body.name, body.manager_id), ctx))


@router.post("/teams/{team_id}/members", response_model=CommandAnswer)
def post_team_member(team_id: UUID, body: TeamMemberAdd, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(add_team_member, AddTeamMember(team_id, body.rep_id), ctx))


@router.get("/teams", response_model=PageOut)
def get_teams(cur: ReadCursor, limit: Limit = 50, cursor: str | None = None) -> Any:
    return records.list_teams(cur, limit=limit, cursor=cursor)


@router.get("/teams/{team_id}")
def get_team(team_id: UUID, cur: ReadCursor, response: Response) -> dict[str, Any]:
    return found(response, records.get_team(cur, team_id), "team", team_id)
