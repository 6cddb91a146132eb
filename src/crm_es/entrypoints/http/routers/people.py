"""/reps and /teams."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor
from crm_es.entrypoints.http.answers import RepPage, RepPublic, TeamDetail, TeamPage
from crm_es.entrypoints.http.respond import answer, found
from crm_es.entrypoints.http.schemas import CommandAnswer, QuotaCreate, RepCreate, TeamCreate, TeamMemberAdd
from crm_es.inputs.fields import Body, Email, Instant, Name
from crm_es.aggregates.base import InvalidInput
from crm_es.commands import execute
from crm_es.commands.documents import SetSignature, set_signature
from crm_es.commands.people import (
    AddRep, AddTeamMember, FormTeam, SetQuota, add_rep, add_team_member, form_team, set_quota,
)
from crm_es.commands.people import (
    ChangeRep, DeactivateRep, ReactivateRep, change_rep, deactivate_rep, reactivate_rep,
)
from crm_es.queries import records

router = APIRouter(tags=["reps and teams"])


@router.post("/reps", status_code=201, response_model=CommandAnswer)
def post_rep(body: RepCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(add_rep, AddRep(body.name, body.email, body.team_id, body.occurred_at), ctx))


@router.get("/reps", response_model=RepPage)
def get_reps(cur: ReadCursor, team: UUID | None = None, q: str | None = None, limit: Limit = 50, cursor: str | None = None,
             active: bool | None = None) -> Any:
    """``active=true``: the reps records may be given to (a deactivated rep keeps theirs)."""
    return records.list_reps(cur, team=team, q=q, limit=limit, cursor=cursor, active=active)


@router.get("/reps/{rep_id}", response_model=RepPublic)
def get_rep(rep_id: UUID, cur: ReadCursor, response: Response) -> dict[str, Any]:
    return found(response, records.get_rep(cur, rep_id), "rep", rep_id)


class RepUpdate(Body):
    name: Name | None = None
    email: Email | None = None
    team_id: UUID | None = Field(default=None, description="the team the rep moves to; null: in no team")
    occurred_at: Instant | None = Field(None, description="when it happened in the business (default: now)")


class RepDeactivation(Body):
    reason: Annotated[str | None, Field(max_length=500, description="why, for the record (they left, a long leave …)")] = None
    occurred_at: Instant | None = Field(
        None, description="from when nothing new is given to the rep (default: now); their records stay theirs")


class RepReactivation(Body):
    occurred_at: Instant | None = Field(None, description="from when the rep is given records again (default: now)")


@router.patch("/reps/{rep_id}", response_model=CommandAnswer)
def patch_rep(rep_id: UUID, body: RepUpdate, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Rename a rep, change their e-mail, move them to another team (or to none with
    team_id null). Fields left out stay; the same values again write nothing. Admins only."""
    if "name" in body.model_fields_set and body.name is None:
        raise InvalidInput("name", "a rep keeps a name: leave name out to keep it")
    if "email" in body.model_fields_set and body.email is None:
        raise InvalidInput("email", "a rep keeps an e-mail address: leave email out to keep it")
    command = ChangeRep(rep_id, body.name, body.email, body.team_id, "team_id" in body.model_fields_set, body.occurred_at)
    return answer(response, execute(change_rep, command, ctx))


@router.post("/reps/{rep_id}/deactivate", response_model=CommandAnswer)
def post_deactivate(rep_id: UUID, ctx: Ctx, response: Response, body: RepDeactivation | None = None) -> dict[str, Any]:
    """The rep leaves: their contacts, deals, tasks, quotas and timeline stay theirs and the
    reports still name them, but from ``occurred_at`` on no record can be given to them
    (409 rep-deactivated) and their API keys are refused (403 rep-deactivated). Hand their
    records over with PATCH. A rep deactivated already: nothing written. Admins only."""
    body = body or RepDeactivation()
    return answer(response, execute(deactivate_rep, DeactivateRep(rep_id, body.reason, body.occurred_at), ctx))


@router.post("/reps/{rep_id}/reactivate", response_model=CommandAnswer)
def post_reactivate(rep_id: UUID, ctx: Ctx, response: Response, body: RepReactivation | None = None) -> dict[str, Any]:
    """The rep is back: records may be given to them again and their keys work again. An
    active rep: nothing written. Admins only."""
    body = body or RepReactivation()
    return answer(response, execute(reactivate_rep, ReactivateRep(rep_id, body.occurred_at), ctx))


@router.post("/reps/{rep_id}/quotas", status_code=201, response_model=CommandAnswer,
             responses={200: {"model": CommandAnswer, "description": "The same target again: nothing written"}})
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
    return answer(response, execute(form_team, FormTeam(body.name, body.manager_id, body.occurred_at), ctx))


@router.post("/teams/{team_id}/members", response_model=CommandAnswer)
def post_team_member(team_id: UUID, body: TeamMemberAdd, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(add_team_member, AddTeamMember(team_id, body.rep_id, body.occurred_at), ctx))


@router.get("/teams", response_model=TeamPage)
def get_teams(cur: ReadCursor, limit: Limit = 50, cursor: str | None = None) -> Any:
    return records.list_teams(cur, limit=limit, cursor=cursor)


@router.get("/teams/{team_id}", response_model=TeamDetail)
def get_team(team_id: UUID, cur: ReadCursor, response: Response) -> dict[str, Any]:
    return found(response, records.get_team(cur, team_id), "team", team_id)
