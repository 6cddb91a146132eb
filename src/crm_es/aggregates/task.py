"""A task in a rep's agenda (F23): a call to make, a meeting, a demo … due at a time,
about a contact and/or a deal, then done (or cancelled). The earliest open task of a
contact or a deal is its next step (F24)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, InvalidInput, Meta, RuleViolated, new_event

OPEN, DONE, CANCELLED = "open", "done", "cancelled"


@dataclass(frozen=True)
class TaskPlan:
    """What a rep plans: the fields of a new task."""

    type: str
    title: str
    due_at: datetime
    duration_minutes: int | None = None
    contact_id: UUID | None = None
    deal_id: UUID | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Task(Aggregate):
    plan: TaskPlan
    owner_id: UUID  # the rep whose agenda it is in (named so the ownership checks apply)
    status: str

    class Planned(Event):
        # Notes are free text about the person: sealed with the contact's key. A task
        # about no contact has no one to seal them for; they are kept in clear then.
        personal_fields = ("notes",)
        subject_field = "contact_id"

        type: str
        title: str
        due_at: datetime
        duration_minutes: int | None
        owner_id: UUID
        contact_id: UUID | None
        deal_id: UUID | None
        notes: str | None

    class Rescheduled(Event):
        due_at: datetime
        previous_due_at: datetime

    class Done(Event):
        """Done at ``occurred_at``, by ``actor``. The outcome (what the person said) is
        theirs, like the notes: ``contact_id`` names whose key seals it."""

        personal_fields = ("outcome",)
        subject_field = "contact_id"

        contact_id: UUID | None
        outcome: str | None

    class Cancelled(Event):
        pass

    @classmethod
    def evolve(cls, state: Task | None, event: Event) -> Task:
        if isinstance(event, Task.Planned):
            plan = TaskPlan(event.type, event.title, event.due_at, event.duration_minutes, event.contact_id,
                            event.deal_id, event.notes)
            return Task(event.originator_id, event.originator_version, plan, event.owner_id, OPEN)
        assert state is not None
        state = replace(state, version=event.originator_version)
        match event:
            case Task.Rescheduled():
                return replace(state, plan=replace(state.plan, due_at=event.due_at))
            case Task.Done():
                return replace(state, status=DONE)
            case Task.Cancelled():
                return replace(state, status=CANCELLED)
        raise TypeError(f"Task cannot apply {type(event).__qualname__}")


def _require_open(task: Task, action: str) -> None:
    if task.status != OPEN:
        raise RuleViolated("task-closed", f"task is {task.status}: it cannot be {action}", task_status=task.status)


def plan(task_id: UUID, wanted: TaskPlan, owner_id: UUID, known_types: Collection[str], meta: Meta) -> list[Event]:
    if wanted.type not in known_types:
        raise InvalidInput("type", f"unknown activity type {wanted.type!r} (known: {', '.join(sorted(known_types))})")
    return [new_event(
        Task.Planned, task_id, 1, meta,
        type=wanted.type, title=wanted.title, due_at=wanted.due_at, duration_minutes=wanted.duration_minutes,
        owner_id=owner_id, contact_id=wanted.contact_id, deal_id=wanted.deal_id, notes=wanted.notes,
    )]


def reschedule(task: Task, due_at: datetime, meta: Meta) -> list[Event]:
    _require_open(task, "rescheduled")
    if due_at == task.plan.due_at:
        return []
    return [task.then(Task.Rescheduled, meta, due_at=due_at, previous_due_at=task.plan.due_at)]


def complete(task: Task, outcome: str | None, meta: Meta) -> list[Event]:
    _require_open(task, "done again" if task.status == DONE else "done")
    return [task.then(Task.Done, meta, contact_id=task.plan.contact_id, outcome=outcome)]


def cancel(task: Task, meta: Meta) -> list[Event]:
    _require_open(task, "cancelled")
    return [task.then(Task.Cancelled, meta)]
