"""A sales rep: a user of the CRM who owns contacts and deals."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event


@dataclass(frozen=True)
class Rep(Aggregate):
    name: str
    email: str
    team_id: UUID | None

    class Added(Event):
        name: str
        email: str
        team_id: UUID | None

    class JoinedTeam(Event):
        team_id: UUID
        previous_team_id: UUID | None

    @classmethod
    def evolve(cls, state: Rep | None, event: Event) -> Rep:
        match event:
            case Rep.Added():
                return Rep(event.originator_id, event.originator_version, event.name, event.email, event.team_id)
            case Rep.JoinedTeam():
                assert state is not None
                return replace(state, version=event.originator_version, team_id=event.team_id)
        raise TypeError(f"Rep cannot apply {type(event).__qualname__}")


def add(rep_id: UUID, name: str, email: str, team_id: UUID | None, meta: Meta) -> list[Event]:
    return [new_event(Rep.Added, rep_id, 1, meta, name=name, email=email, team_id=team_id)]


def join_team(rep: Rep, team_id: UUID, meta: Meta) -> list[Event]:
    if rep.team_id == team_id:
        return []
    return [rep.then(Rep.JoinedTeam, meta, team_id=team_id, previous_team_id=rep.team_id)]
