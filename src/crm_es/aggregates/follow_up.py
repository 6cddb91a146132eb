"""A missed meeting's follow-up (F21), one record per contact: the policy's own memory of
where it stands with them. A cycle starts when a meeting is missed (slots proposed by
e-mail), may be reminded, and ends answered (a reply, a meeting held or planned) or with
a call planned for the rep. A new missed meeting after the end starts the next cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event

PROPOSED, REMINDED, ANSWERED, CALLING = "proposed", "reminded", "answered", "calling"
OPEN = (PROPOSED, REMINDED)


def follow_up_id(contact_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:missed-meeting-follow-up:{contact_id}")


@dataclass(frozen=True)
class FollowUp(Aggregate):
    contact_id: UUID
    rep_id: UUID
    cycle: int
    stage: str

    class Started(Event):
        # The slots offered are the rep's agenda, not the person's data.
        contact_id: UUID
        rep_id: UUID
        cycle: int
        slots: list[datetime]

    class Reminded(Event):
        cycle: int

    class Answered(Event):
        cycle: int
        how: str  # what the contact did: "email_received", "meeting_held", "meeting planned"

    class CallPlanned(Event):
        cycle: int
        task_id: UUID

    @property
    def open(self) -> bool:
        return self.stage in OPEN

    @classmethod
    def evolve(cls, state: FollowUp | None, event: Event) -> FollowUp:
        if isinstance(event, FollowUp.Started):
            return FollowUp(event.originator_id, event.originator_version, event.contact_id, event.rep_id, event.cycle,
                            PROPOSED)
        assert state is not None
        state = state.moved_on(version=event.originator_version)
        match event:
            case FollowUp.Reminded():
                return state.moved_on(stage=REMINDED)
            case FollowUp.Answered():
                return state.moved_on(stage=ANSWERED)
            case FollowUp.CallPlanned():
                return state.moved_on(stage=CALLING)
        raise TypeError(f"FollowUp cannot apply {type(event).__qualname__}")


def start(state: FollowUp | None, contact_id: UUID, rep_id: UUID, slots: list[datetime], meta: Meta) -> list[Event]:
    cycle = (state.cycle if state else 0) + 1
    return [new_event(FollowUp.Started, follow_up_id(contact_id), (state.version if state else 0) + 1, meta,
                      contact_id=contact_id, rep_id=rep_id, cycle=cycle, slots=slots)]


def remind(state: FollowUp, meta: Meta) -> list[Event]:
    return [state.then(FollowUp.Reminded, meta, cycle=state.cycle)]


def answered(state: FollowUp, how: str, meta: Meta) -> list[Event]:
    return [state.then(FollowUp.Answered, meta, cycle=state.cycle, how=how)] if state.open else []


def call_planned(state: FollowUp, task_id: UUID, meta: Meta) -> list[Event]:
    return [state.then(FollowUp.CallPlanned, meta, cycle=state.cycle, task_id=task_id)]
