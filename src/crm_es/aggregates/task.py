"""A task in a rep's agenda (F23): a call to make, a meeting, a demo … due at a time,
about a contact and/or a deal, then done (or cancelled). The earliest open task of a
contact or a deal is its next step (F24).

Its title, notes and outcome are free text a rep writes about a person ("call Jean
Dupont"): sealed under the key of the contact the task is about; for a task about a
deal and no contact, under the deal's text key (erased when a contact the deal named
is forgotten, see aggregates/deal.py); a task about neither keeps them in clear (it is
about no one the service could forget)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, InvalidInput, Meta, RuleViolated, new_event

OPEN, DONE, CANCELLED = "open", "done", "cancelled"


@dataclass(frozen=True)
class TaskPlan:
    """What a rep plans: the fields of a new task."""

    type: str
    title: str | None  # None: erased
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
    subject_id: UUID | None = None  # whose key seals its free text (see the module's docstring)

    class Planned(Event):
        """The plan. v2 seals the title too, and names whose key seals the free text
        (``subject_id``: the contact, else the deal's text key, else None: in clear)."""

        class_version = 2
        personal_fields = ("title", "notes")
        subject_field = "subject_id"

        type: str
        title: str | None  # None: erased
        due_at: datetime
        duration_minutes: int | None
        owner_id: UUID
        contact_id: UUID | None
        deal_id: UUID | None
        notes: str | None
        subject_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # v1 sealed the notes under the contact's key (the title was in clear).
            state["subject_id"] = state["contact_id"]

    class Rescheduled(Event):
        due_at: datetime
        previous_due_at: datetime

    class Done(Event):
        """Done at ``occurred_at``, by ``actor``. The outcome (what the person said) is
        theirs, like the notes: v2's ``subject_id`` names whose key seals it (v1: the
        contact's, ``contact_id``)."""

        class_version = 2
        personal_fields = ("outcome",)
        subject_field = "subject_id"

        contact_id: UUID | None
        outcome: str | None
        subject_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["subject_id"] = state["contact_id"]

    class Cancelled(Event):
        pass

    @classmethod
    def evolve(cls, state: Task | None, event: Event) -> Task:
        if isinstance(event, Task.Planned):
            plan = TaskPlan(event.type, event.title, event.due_at, event.duration_minutes, event.contact_id,
                            event.deal_id, event.notes)
            return Task(event.originator_id, event.originator_version, plan, event.owner_id, OPEN, event.subject_id)
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


def plan(task_id: UUID, wanted: TaskPlan, owner_id: UUID, known_types: Collection[str], meta: Meta,
         deal_text_key: UUID | None = None) -> list[Event]:
    """``deal_text_key``: the key of the deal's free text now (``deal.key_of_text``), which
    seals the task's own when it is about the deal and no contact."""
    if wanted.type not in known_types:
        raise InvalidInput("type", f"unknown activity type {wanted.type!r} (known: {', '.join(sorted(known_types))})")
    subject_id = wanted.contact_id if wanted.contact_id is not None else deal_text_key if wanted.deal_id else None
    return [new_event(
        Task.Planned, task_id, 1, meta,
        type=wanted.type, title=wanted.title, due_at=wanted.due_at, duration_minutes=wanted.duration_minutes,
        owner_id=owner_id, contact_id=wanted.contact_id, deal_id=wanted.deal_id, notes=wanted.notes,
        subject_id=subject_id,
    )]


def reschedule(task: Task, due_at: datetime, meta: Meta) -> list[Event]:
    _require_open(task, "rescheduled")
    if due_at == task.plan.due_at:
        return []
    return [task.then(Task.Rescheduled, meta, due_at=due_at, previous_due_at=task.plan.due_at)]


def complete(task: Task, outcome: str | None, meta: Meta, deal_text_key: UUID | None = None) -> list[Event]:
    """``deal_text_key``: for a task about a deal and no contact, the deal's text key now
    (it changes when a contact the deal named is forgotten); the outcome is sealed under it."""
    _require_open(task, "done again" if task.status == DONE else "done")
    subject_id = deal_text_key if task.plan.contact_id is None and deal_text_key is not None else task.subject_id
    return [task.then(Task.Done, meta, contact_id=task.plan.contact_id, outcome=outcome, subject_id=subject_id)]


def cancel(task: Task, meta: Meta) -> list[Event]:
    _require_open(task, "cancelled")
    return [task.then(Task.Cancelled, meta)]
