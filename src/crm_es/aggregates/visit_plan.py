"""A customer's recurring visits (F20), one record per contact: the ``recurring-visits``
policy's memory of the visit now in the owner's agenda (at most one: it books the next
only once this one is closed) and of the timer waiting for its time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event

DONE, PASSED, CANCELLED = "done", "passed", "cancelled"  # how a visit was closed


def visit_plan_id(contact_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:recurring-visits:{contact_id}")


@dataclass(frozen=True)
class VisitPlan(Aggregate):
    contact_id: UUID
    active: bool
    visits: int  # visits booked or taken over so far: numbers the next one
    task_id: UUID | None = None  # the open visit
    timer_id: UUID | None = None  # what waits for its time

    # The policy's bookkeeping (a task, a time): nothing that identifies the person.
    class VisitBooked(Event):
        """A visit is in the owner's agenda: planned by the policy, or one planned by a
        rep and taken over (``taken_over``); a timer waits for its time."""

        personal_fields = ()
        subject_field = "contact_id"

        contact_id: UUID
        task_id: UUID
        due_at: datetime
        timer_id: UUID
        number: int
        taken_over: bool

    class VisitMoved(Event):
        """The visit was rescheduled later: a new timer waits for its new time."""

        personal_fields = ()
        subject_field = "originator_id"

        task_id: UUID
        due_at: datetime
        timer_id: UUID

    class VisitClosed(Event):
        """The visit was done, or its time passed (the policy cancelled it), or a rep
        cancelled it: the next one can be booked."""

        personal_fields = ()
        subject_field = "originator_id"

        task_id: UUID
        how: str

    class Stopped(Event):
        """No more visits: the tag was removed, the contact has no owner or was forgotten."""

        personal_fields = ()
        subject_field = "originator_id"

        reason: str

    @classmethod
    def evolve(cls, state: VisitPlan | None, event: Event) -> VisitPlan:
        if isinstance(event, VisitPlan.VisitBooked):
            return VisitPlan(event.originator_id, event.originator_version, event.contact_id, True, event.number,
                             event.task_id, event.timer_id)
        assert state is not None
        state = state.moved_on(version=event.originator_version)
        match event:
            case VisitPlan.VisitMoved():
                return state.moved_on(timer_id=event.timer_id)
            case VisitPlan.VisitClosed():
                return state.moved_on(task_id=None, timer_id=None)
            case VisitPlan.Stopped():
                return state.moved_on(active=False, task_id=None, timer_id=None)
        raise TypeError(f"VisitPlan cannot apply {type(event).__qualname__}")


def book(plan: VisitPlan | None, contact_id: UUID, task_id: UUID, due_at: datetime, timer_id: UUID, taken_over: bool,
         meta: Meta) -> list[Event]:
    version = (plan.version if plan is not None else 0) + 1
    number = (plan.visits if plan is not None else 0) + 1
    return [new_event(VisitPlan.VisitBooked, visit_plan_id(contact_id), version, meta, contact_id=contact_id,
                      task_id=task_id, due_at=due_at, timer_id=timer_id, number=number, taken_over=taken_over)]


def moved(plan: VisitPlan, due_at: datetime, timer_id: UUID, meta: Meta) -> list[Event]:
    assert plan.task_id is not None
    return [plan.then(VisitPlan.VisitMoved, meta, task_id=plan.task_id, due_at=due_at, timer_id=timer_id)]


def closed(plan: VisitPlan, how: str, meta: Meta) -> list[Event]:
    assert plan.task_id is not None
    return [plan.then(VisitPlan.VisitClosed, meta, task_id=plan.task_id, how=how)]


def stop(plan: VisitPlan, reason: str, meta: Meta) -> list[Event]:
    return [plan.then(VisitPlan.Stopped, meta, reason=reason)] if plan.active else []
