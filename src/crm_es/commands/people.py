"""Reps and teams: the users of the CRM and how they are grouped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from crm_es.aggregates import Rep, Team
from crm_es.aggregates import rep as reps
from crm_es.aggregates import team as teams
from crm_es.commands.context import CommandContext, CommandResult, NotYours


@dataclass(frozen=True)
class AddRep:
    name: str
    email: str
    team_id: UUID | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class FormTeam:
    name: str
    manager_id: UUID | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class AddTeamMember:
    team_id: UUID
    rep_id: UUID
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class SetQuota:
    rep_id: UUID
    period_start: date
    period_end: date  # excluded
    amount: Decimal
    currency: str
    occurred_at: datetime | None = None


def add_rep(cmd: AddRep, ctx: CommandContext) -> CommandResult:
    ctx.exists(Team, cmd.team_id, "team_id")
    rep_id = ctx.new_id()
    return ctx.save(rep_id, reps.add(rep_id, cmd.name, cmd.email, cmd.team_id, ctx.meta(cmd.occurred_at)), created=True)


def form_team(cmd: FormTeam, ctx: CommandContext) -> CommandResult:
    manager = ctx.load(Rep, cmd.manager_id, "manager_id") if cmd.manager_id is not None else None
    meta = ctx.meta(cmd.occurred_at)
    reps.check_assignable(manager, meta.occurred_at, "manager_id")
    team_id = ctx.new_id()
    return ctx.save(team_id, teams.form(team_id, cmd.name, cmd.manager_id, meta), created=True)


def add_team_member(cmd: AddTeamMember, ctx: CommandContext) -> CommandResult:
    """Membership is a fact about the rep; the answer names the team, which is unchanged."""
    team = ctx.target(Team, cmd.team_id)
    rep = ctx.load(Rep, cmd.rep_id, "rep_id")
    events = reps.join_team(rep, team.id, ctx.meta(cmd.occurred_at))
    return ctx.save(team.id, events, current_version=team.version)


def set_quota(cmd: SetQuota, ctx: CommandContext) -> CommandResult:
    """A manager sets the targets of their team's reps (the key's reach, as for a deal's owner)."""
    rep = ctx.load(Rep, cmd.rep_id)
    if not ctx.ownership.may_write_for(rep.id):
        raise NotYours(f"rep {rep.id} is not in a team this key manages")
    ctx.check_version(rep)
    meta = ctx.meta(cmd.occurred_at)
    reps.check_assignable(rep, meta.occurred_at, "rep_id")
    events = reps.set_quota(rep, cmd.period_start, cmd.period_end, cmd.amount, cmd.currency, meta)
    return ctx.save(rep.id, events, current_version=rep.version, created=bool(events))


@dataclass(frozen=True)
class ChangeRep:
    rep_id: UUID
    name: str | None = None
    email: str | None = None
    team_id: UUID | None = None
    team_given: bool = False  # team_id null takes the rep out of their team
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class DeactivateRep:
    rep_id: UUID
    reason: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ReactivateRep:
    rep_id: UUID
    occurred_at: datetime | None = None


def change_rep(cmd: ChangeRep, ctx: CommandContext) -> CommandResult:
    rep = ctx.target(Rep, cmd.rep_id)
    if cmd.team_given:
        ctx.exists(Team, cmd.team_id, "team_id")
    events = reps.change(rep, ctx.meta(cmd.occurred_at), name=cmd.name, email=cmd.email, team_id=cmd.team_id,
                         team_given=cmd.team_given)
    return ctx.save(rep.id, events, current_version=rep.version)


def deactivate_rep(cmd: DeactivateRep, ctx: CommandContext) -> CommandResult:
    """Their records stay theirs (hand them over with PATCH where you want); their keys
    stop working at once (auth/api_keys.py), and nothing new is given to them."""
    rep = ctx.target(Rep, cmd.rep_id)
    return ctx.save(rep.id, reps.deactivate(rep, cmd.reason, ctx.meta(cmd.occurred_at)), current_version=rep.version)


def reactivate_rep(cmd: ReactivateRep, ctx: CommandContext) -> CommandResult:
    rep = ctx.target(Rep, cmd.rep_id)
    return ctx.save(rep.id, reps.reactivate(rep, ctx.meta(cmd.occurred_at)), current_version=rep.version)
