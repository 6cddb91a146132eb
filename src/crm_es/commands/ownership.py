"""Whose contacts and deals a rep's or a manager's key may change, decided on the event
store: the truth, never behind (the read side may not yet know a handover or a new rep)."""

from __future__ import annotations

from uuid import UUID

from crm_es.aggregates import Rep, Team
from crm_es.auth.roles import Principal, Reach, read_reach, write_reach
from crm_es.commands.context import ANYONE, Ownership
from crm_es.store import EventStore


class TeamOwnership:
    """A rep writes for themselves; a manager for the reps of their team and of the teams
    they manage. What they may name in a command (a task's contact, a deal's contacts) is
    what they read: a rep their team's records (or only theirs, CRM_ES_REP_READS=own)."""

    limited = True

    def __init__(self, principal: Principal, store: EventStore, rep_reads: Reach = Reach.TEAM) -> None:
        self.rep_id = principal.rep_id
        self.writes = write_reach(principal.role)
        self.reads = read_reach(principal.role, rep_reads)
        self.store = store

    @property
    def default_owner(self) -> UUID | None:
        return self.rep_id

    def may_write_for(self, owner_id: UUID | None) -> bool:
        return self._reaches(self.writes, owner_id)

    def may_read(self, owner_id: UUID | None) -> bool:
        return self._reaches(self.reads, owner_id)

    def _reaches(self, reach: Reach, owner_id: UUID | None) -> bool:
        if owner_id == self.rep_id or reach is Reach.ALL:
            return True
        if owner_id is None or reach is Reach.OWN:
            return False
        owner, me = self.store.load_many([(Rep, owner_id), (Rep, self.rep_id)])
        if owner is None or owner.team_id is None:
            return False
        if me is not None and owner.team_id == me.team_id:
            return True
        team = self.store.load(Team, owner.team_id)
        return team is not None and team.manager_id == self.rep_id


def ownership_of(principal: Principal, store: EventStore, rep_reads: Reach = Reach.TEAM) -> Ownership:
    """``rep_reads``: the setting CRM_ES_REP_READS (what a rep reads, and so may name)."""
    return ANYONE if write_reach(principal.role) is Reach.ALL else TeamOwnership(principal, store, rep_reads)
