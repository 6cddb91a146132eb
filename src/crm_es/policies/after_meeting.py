"""After every meeting held, a task in the rep's agenda (F20): "send the product sheet",
due a set time after the meeting. The rep is the one who held it, else the contact's
owner; with neither, there is no agenda to put it in and nothing is done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import Field

from crm_es.aggregates import task as tasks
from crm_es.aggregates.activity_types import ACTIVITY_TYPES_ID, ActivityTypes
from crm_es.aggregates.activity_types import current as current_types
from crm_es.aggregates.base import Aggregate, Event, InvalidInput
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.interactions import MeetingHeld
from crm_es.aggregates.rep import Rep
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction, task_for


class TaskAfterMeeting(Policy):
    name = "task-after-meeting"
    description = "After every meeting held, a task in the rep's agenda (send the product sheet)."
    reacts_to = (MeetingHeld,)

    class Settings(PolicySettingsModel):
        title: str = Field("Send the product sheet", min_length=1, max_length=200)
        activity_type: str = Field("email", min_length=1, max_length=60)
        due_after_hours: float = Field(24, ge=0, le=24 * 365)

    def check(self, settings: Settings, load: Loader) -> None:
        if current_types(load(ActivityTypes, ACTIVITY_TYPES_ID)).named(settings.activity_type) is None:
            raise InvalidInput("settings.activity_type", f"unknown activity type {settings.activity_type!r}")

    def prefetch(self, events: Sequence[Event]) -> list[tuple[type[Aggregate], Any]]:
        meetings = [e for e in events if isinstance(e, MeetingHeld)]
        reps = {e.rep_id for e in meetings if e.rep_id is not None}
        return [*((Contact, i) for i in dict.fromkeys(e.originator_id for e in meetings)), *((Rep, i) for i in reps)]

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        assert isinstance(event, MeetingHeld)
        contact = ctx.load(Contact, event.originator_id)
        if contact is None or contact.forgotten:
            return NOTHING
        rep = ctx.active_rep(event.rep_id, contact.owner_id)  # the one who met them, else the owner
        if rep is None:
            return NOTHING
        settings: TaskAfterMeeting.Settings = ctx.settings
        plan = tasks.TaskPlan(settings.activity_type, settings.title,
                              event.occurred_at + timedelta(hours=settings.due_after_hours),
                              contact_id=contact.id, deal_id=event.deal_id)
        known = {t.name for t in current_types(ctx.load(ActivityTypes, ACTIVITY_TYPES_ID)).types}
        return Reaction(tasks.plan(task_for(event, self.name), plan, rep, known, ctx.meta()))
