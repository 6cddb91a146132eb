"""Scheduled messages (F22): the price list after a call with a given outcome, and a
reminder to the customer before a meeting in the rep's agenda (by e-mail or SMS).

The reminder waits on a timer set when the meeting is planned, with an id from the task
and its time: a meeting moved gets a new timer (the old one cancelled), a meeting done or
cancelled cancels it, and a timer that fires checks the meeting is still as it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from crm_es.aggregates import message as messages
from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Event
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.interactions import CallLogged
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.task import OPEN, Task
from crm_es.aggregates.timer import Timer
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction, cause_of
from crm_es.policies.templates import check_template, person_values, render

NAME = "scheduled-messages"
PRICE_LIST_VARIABLES = ("first_name", "last_name", "rep_name", "price_list_url")
REMINDER_VARIABLES = ("first_name", "last_name", "rep_name", "title", "meeting_time")


class PriceList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcomes: tuple[str, ...] = Field(("interested",), description="call outcomes after which the price list goes out")
    url: str = Field("https://example.com/price-list.pdf", min_length=1, max_length=2000)
    subject: str = Field("Our price list", min_length=1, max_length=200)
    body: str = Field("Hello {first_name},\n\nAs promised on the phone, our price list: {price_list_url}\n\n"
                      "Best regards,\n{rep_name}", min_length=1, max_length=10_000)


class MeetingReminder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    hours_before: float = Field(24, gt=0, le=24 * 14)
    channel: Literal["email", "sms"] = "email"
    subject: str = Field("See you tomorrow", min_length=1, max_length=200)
    body: str = Field("Hello {first_name}, a reminder of our meeting ({title}) on {meeting_time}. {rep_name}",
                      min_length=1, max_length=2_000)


class ScheduledMessages(Policy):
    name = NAME
    description = "The price list after a call with a given outcome; a reminder to the customer before a meeting."
    reacts_to = (CallLogged, Task.Planned, Task.Rescheduled, Task.Done, Task.Cancelled, Timer.Fired)

    class Settings(PolicySettingsModel):
        price_list: PriceList | None = Field(default_factory=PriceList, description="null: no price list e-mails")
        meeting_reminder: MeetingReminder = Field(default_factory=MeetingReminder)

    def check(self, settings: Settings, load: Loader) -> None:
        if settings.price_list is not None:
            for field in ("subject", "body"):
                check_template(f"settings.price_list.{field}", getattr(settings.price_list, field), PRICE_LIST_VARIABLES)
        for field in ("subject", "body"):
            check_template(f"settings.meeting_reminder.{field}", getattr(settings.meeting_reminder, field),
                           REMINDER_VARIABLES)

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        settings: ScheduledMessages.Settings = ctx.settings
        match event:
            case CallLogged() if settings.price_list is not None and event.outcome in settings.price_list.outcomes:
                return self._price_list(event, settings.price_list, ctx)
            case Task.Planned() if event.contact_id is not None and event.type.startswith("meeting"):
                return self._set_reminder(event.originator_id, event.contact_id, event.due_at, settings, ctx)
            case Task.Rescheduled():
                task = ctx.load(Task, event.originator_id)
                if task is None or task.plan.contact_id is None or not task.plan.type.startswith("meeting"):
                    return NOTHING
                cancelled = self._cancel(task.id, event.previous_due_at, ctx)
                return cancelled + self._set_reminder(task.id, task.plan.contact_id, event.due_at, settings, ctx)
            case Task.Done() | Task.Cancelled():
                task = ctx.load(Task, event.originator_id)
                return self._cancel(task.id, task.plan.due_at, ctx) if task is not None else NOTHING
            case Timer.Fired() if event.policy == self.name:
                return self._remind(event, settings.meeting_reminder, ctx)
        return NOTHING

    def _price_list(self, event: CallLogged, price_list: PriceList, ctx: PolicyContext) -> Reaction:
        contact = ctx.load(Contact, event.originator_id)
        if contact is None or contact.forgotten or contact.details.email is None or contact.email_invalid:
            return NOTHING
        rep = ctx.load(Rep, event.rep_id or contact.owner_id)
        values = {**person_values(contact, rep), "price_list_url": price_list.url}
        message_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{self.name}:price-list:{cause_of(event)}")
        events, row = messages.queue(message_id, "email", contact.details.email, render(price_list.body, values),
                                     self.name, ctx.meta(), contact_id=contact.id, subject=render(price_list.subject, values))
        return Reaction(events, [row])

    def _set_reminder(self, task_id: UUID, contact_id: UUID, due_at: datetime, settings: Settings,
                      ctx: PolicyContext) -> Reaction:
        reminder = settings.meeting_reminder
        at = due_at - timedelta(hours=reminder.hours_before)
        if not reminder.enabled or at <= ctx.now:
            return NOTHING  # too late to remind: the meeting is (nearly) there
        events, rows = timers.schedule(_reminder_id(task_id, due_at), self.name, "meeting-reminder", at, contact_id,
                                       {"task_id": str(task_id), "due_at": due_at.isoformat()}, ctx.meta())
        return Reaction(events, rows)

    def _cancel(self, task_id: UUID, due_at: datetime, ctx: PolicyContext) -> Reaction:
        events, rows = timers.cancel(ctx.load(Timer, _reminder_id(task_id, due_at)), "the meeting changed", ctx.meta())
        return Reaction(events, rows)

    def _remind(self, event: Timer.Fired, reminder: MeetingReminder, ctx: PolicyContext) -> Reaction:
        task = ctx.load(Task, UUID(event.data["task_id"]))
        contact = ctx.load(Contact, event.contact_id)
        if task is None or task.status != OPEN or task.plan.due_at.isoformat() != event.data["due_at"]:
            return NOTHING  # done, cancelled or moved meanwhile (a moved one has its own timer)
        if contact is None or contact.forgotten:
            return NOTHING
        to = contact.details.email if reminder.channel == "email" else contact.details.phone
        if not to or (reminder.channel == "email" and contact.email_invalid):
            return NOTHING  # no way to reach them on this channel
        rep = ctx.load(Rep, task.owner_id)
        values = {**person_values(contact, rep), "title": task.plan.title,
                  "meeting_time": f"{task.plan.due_at:%A %d %B at %H:%M} UTC"}
        message_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{self.name}:reminder:{event.originator_id}")
        subject = render(reminder.subject, values) if reminder.channel == "email" else None
        events, row = messages.queue(message_id, reminder.channel, to, render(reminder.body, values), self.name,
                                     ctx.meta(), contact_id=contact.id, subject=subject)
        return Reaction(events, [row])


def _reminder_id(task_id: UUID, due_at: datetime) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:reminder:{task_id}:{due_at.isoformat()}")
