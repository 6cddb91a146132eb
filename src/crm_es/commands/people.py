"""Reps and teams: the users of the CRM and how they are grouped."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm_es.aggregates import Rep, Team
from crm_es.aggregates import rep as reps
from crm_es.aggregates import team as teams
from crm_es.commands.context import CommandContext, CommandResult


@dataclass(frozen=True)
class AddRep:
    name: str
    email: str
    team_id: UUID | None = None


@dataclass(frozen=True)
class FormTeam:
    name: str
    manager_id: UUID | None = None


@dataclass(frozen=True)
class AddTeamMember:
    team_id: UUID
    rep_id: UUID


def add_rep(cmd: AddRep, ctx: CommandContext) -> CommandResult:
    ctx.exists(Team, cmd.team_id, "team_id")
    rep_id = ctx.new_id()
    return ctx.save(rep_id, reps.add(rep_id, cmd.name, cmd.email, cmd.team_id, ctx.meta()), created=True)


def form_team(cmd: FormTeam, ctx: CommandContext) -> CommandResult:
    ctx.exists(Rep, cmd.manager_id, "manager_id")
    team_id = ctx.new_id()
    return ctx.save(team_id, teams.form(team_id, cmd.name, cmd.manager_id, ctx.meta()), created=True)


def add_team_member(cmd: AddTeamMember, ctx: CommandContext) -> CommandResult:
    """Membership is a fact about the rep; the answer names the team, which is unchanged."""
    team = ctx.target(Team, cmd.team_id)
    rep = ctx.load(Rep, cmd.rep_id, "rep_id")
    events = reps.join_team(rep, team.id, ctx.meta())
    return ctx.save(team.id, events, current_version=team.version)
