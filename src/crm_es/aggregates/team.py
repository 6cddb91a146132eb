"""A team of reps with its manager; membership is recorded on each rep."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event


@dataclass(frozen=True)
class Team(Aggregate):
    name: str
    manager_id: UUID | None

    class Formed(Event):
        name: str
        manager_id: UUID | None

    @classmethod
    def evolve(cls, state: Team | None, event: Event) -> Team:
        match event:
            case Team.Formed():
                return Team(event.originator_id, event.originator_version, event.name, event.manager_id)
        raise TypeError(f"Team cannot apply {type(event).__qualname__}")


def form(team_id: UUID, name: str, manager_id: UUID | None, meta: Meta) -> list[Event]:
    return [new_event(Team.Formed, team_id, 1, meta, name=name, manager_id=manager_id)]
