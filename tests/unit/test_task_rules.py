"""The task's and the activity types' rules, given events / when a decision / then events
or an error. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import orjson
import pytest

from crm_es.aggregates import activity_types as settings
from crm_es.aggregates import task as tasks
from crm_es.aggregates.activity_types import ACTIVITY_TYPES_ID, BUILT_IN, ActivityTypes
from crm_es.aggregates.base import Event, InvalidInput, Meta, RuleViolated
from crm_es.aggregates.task import Task, TaskPlan
from crm_es.store import personal
from crm_es.store.codec import upcast

META = Meta(
    occurred_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
    recorded_at=datetime(2026, 3, 1, 9, 0, 5, tzinfo=timezone.utc),
    actor="rep:alice",
    correlation_id="req-1",
)
TASK_ID = UUID(int=1)
OWNER = UUID(int=2)
CONTACT = UUID(int=3)
DUE = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))
KNOWN = {t.name for t in BUILT_IN}
KNOWN_ORDER = [t.name for t in BUILT_IN]


def planned(type: str = "call", contact_id: UUID | None = CONTACT) -> list[Event]:
    plan = TaskPlan(type, "Call Acme back", DUE, 30, contact_id, None, "prefers mornings")
    return tasks.plan(TASK_ID, plan, OWNER, KNOWN, META)


def given(*history: list[Event]) -> Task:
    state = Task.fold(e for events in history for e in events)
    assert state is not None
    return state


def test_planning_records_the_whole_plan_for_the_reps_agenda() -> None:
    [event] = planned()
    assert isinstance(event, Task.Planned)
    assert (event.originator_id, event.originator_version, event.owner_id) == (TASK_ID, 1, OWNER)
    assert (event.type, event.due_at, event.duration_minutes, event.contact_id) == ("call", DUE, 30, CONTACT)
    assert (event.occurred_at, event.actor) == (META.occurred_at, "rep:alice")
    task = given([event])
    assert (task.status, task.owner_id, task.plan.notes) == (tasks.OPEN, OWNER, "prefers mornings")


def test_a_type_nobody_configured_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        planned(type="telepathy")
    assert refused.value.field == "type"


def test_doing_a_task_records_when_by_whom_and_what_came_of_it() -> None:
    [done] = tasks.complete(given(planned()), "agreed to a demo", META)
    assert isinstance(done, Task.Done)
    assert (done.originator_version, done.outcome, done.contact_id, done.actor) == (2, "agreed to a demo", CONTACT, "rep:alice")
    assert given(planned(), [done]).status == tasks.DONE


@pytest.mark.parametrize("close", [lambda t: tasks.complete(t, None, META), lambda t: tasks.cancel(t, META)])
def test_a_closed_task_cannot_be_done_rescheduled_or_cancelled(close) -> None:
    history = planned()
    closed = given(history, close(given(history)))
    for decide in (lambda: tasks.complete(closed, None, META), lambda: tasks.cancel(closed, META),
                   lambda: tasks.reschedule(closed, DUE + timedelta(days=1), META)):
        with pytest.raises(RuleViolated) as refused:
            decide()
        assert refused.value.rule == "task-closed"


def test_rescheduling_moves_the_due_time_and_keeps_the_old_one_in_the_event() -> None:
    later = DUE + timedelta(days=2)
    [moved] = tasks.reschedule(given(planned()), later, META)
    assert isinstance(moved, Task.Rescheduled) and (moved.due_at, moved.previous_due_at) == (later, DUE)
    assert given(planned(), [moved]).plan.due_at == later


def test_rescheduling_to_the_same_instant_records_nothing() -> None:
    same_instant = DUE.astimezone(timezone.utc)
    assert tasks.reschedule(given(planned()), same_instant, META) == []


def test_title_notes_and_outcome_are_personal_data_sealed_for_the_tasks_subject() -> None:
    assert (Task.Planned.personal_fields, Task.Planned.subject_field) == (("title", "notes"), "subject_id")
    assert (Task.Done.personal_fields, Task.Done.subject_field) == (("outcome",), "subject_id")
    assert Task.Rescheduled.personal_fields == Task.Cancelled.personal_fields == ()


DEAL = UUID(int=4)
DEAL_KEY = UUID(int=5)


def test_the_subject_is_the_contact_else_the_deals_text_key_else_no_one() -> None:
    about_both = TaskPlan("call", "Call Jean Dupont", DUE, None, CONTACT, DEAL)
    about_deal = TaskPlan("call", "Call Jean Dupont", DUE, None, None, DEAL)
    about_no_one = TaskPlan("call", "Order the brochures", DUE)
    assert [tasks.plan(TASK_ID, p, OWNER, KNOWN, META, DEAL_KEY)[0].subject_id
            for p in (about_both, about_deal, about_no_one)] == [CONTACT, DEAL_KEY, None]
    assert tasks.plan(TASK_ID, about_deal, OWNER, KNOWN, META)[0].subject_id is None  # no key given (a policy's task)

    task = given(tasks.plan(TASK_ID, about_deal, OWNER, KNOWN, META, DEAL_KEY))
    assert task.subject_id == DEAL_KEY
    # the deal's text key changed since (a contact it named was forgotten): the outcome goes under the new one
    assert tasks.complete(task, "yes", META, UUID(int=6))[0].subject_id == UUID(int=6)
    assert tasks.complete(task, "yes", META)[0].subject_id == DEAL_KEY
    contact_task = given(planned())
    assert tasks.complete(contact_task, "yes", META, UUID(int=6))[0].subject_id == CONTACT


def test_v1_plans_and_dones_are_upcast_to_name_the_contact_as_their_subject() -> None:
    """v1 sealed the notes and the outcome under ``contact_id`` (the title was in clear)."""
    planned_v1 = {"type": "call", "title": "Call Acme back", "contact_id": str(CONTACT), "deal_id": None,
                  "notes": {"$sealed": "..."}}
    assert upcast(Task.Planned, dict(planned_v1))["subject_id"] == str(CONTACT)
    assert upcast(Task.Planned, {**planned_v1, "contact_id": None})["subject_id"] is None
    done_v1 = {"contact_id": str(CONTACT), "outcome": None}
    assert upcast(Task.Done, dict(done_v1)) == {**done_v1, "subject_id": str(CONTACT)}
    assert upcast(Task.Done, {**done_v1, "class_version": 2, "subject_id": "x"})["subject_id"] == "x"  # today's: as stored
    # the store finds the key of a v1 event's notes by the subject its upcaster names
    assert personal.raw_subject(Task.Planned, str(TASK_ID), orjson.dumps(planned_v1)) == str(CONTACT)


# --- activity types ---------------------------------------------------------------------


def test_the_built_in_types_hold_until_the_first_change_records_them() -> None:
    assert settings.current(None).types == BUILT_IN
    seeded, added = settings.set_type(None, "webinar", None, "#ABCDEF", META)
    assert isinstance(seeded, ActivityTypes.Seeded) and seeded.types == BUILT_IN
    assert isinstance(added, ActivityTypes.TypeAdded)
    assert (added.name, added.label, added.colour, added.originator_version) == ("webinar", "Webinar", "#abcdef", 2)
    config = ActivityTypes.fold([seeded, added])
    assert config is not None and config.id == ACTIVITY_TYPES_ID
    assert [t.name for t in config.types] == [*KNOWN_ORDER, "webinar"]


def test_changing_a_colour_keeps_the_label_and_records_the_previous_values() -> None:
    config = ActivityTypes.fold(settings.set_type(None, "webinar", "Webinar", "#000000", META))
    [changed] = settings.set_type(config, "call", None, "#ff0000", META)
    assert isinstance(changed, ActivityTypes.TypeChanged)
    assert (changed.label, changed.colour, changed.previous_colour) == ("Call", "#ff0000", "#43a047")
    assert ActivityTypes.evolve(config, changed).named("call").colour == "#ff0000"


def test_setting_what_is_already_there_records_nothing() -> None:
    assert settings.set_type(None, "call", None, "#43A047", META) == []
    config = ActivityTypes.fold(settings.set_type(None, "call", "Phone call", "#43a047", META))
    assert settings.set_type(config, "call", "Phone call", "#43a047", META) == []
