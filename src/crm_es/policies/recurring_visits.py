"""Recurring visits (F20): every customer with the tag (Gold) gets a visit booked in their
owner's agenda every few months — never two at once.

When a contact has the tag and an owner (registered so, tagged, given an owner, or the
policy switched on), a visit is booked for the next working day at the set hour, unless
one is already open for them (a rep's own booking is taken over). When it is done, the
next is booked ``every_months`` after it was done; when its time passes and it is still
open ``grace_days`` later, the policy cancels it and books the next ``every_months``
after its due date. A rep who cancels the visit skips it: the next comes ``every_months``
after its due date. A visit moved later is waited for at its new time.

Stopping: the tag removed or no owner left — the timer is cancelled and an open visit is
left alone (it may be agreed with the customer: the rep's to keep or cancel); the contact
forgotten — the open visit is cancelled too (there is no one left to visit).

Time: the timers are events (aggregates/timer.py) and the policy's own record per contact
(aggregates/visit_plan.py) keeps the open visit and its timer: the log is the job store,
as in policies/scheduled_reports.py. Months are calendar arithmetic (a visit due on the
31st moves to the month's last day), hours are UTC, working days Monday to Friday.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from crm_es.aggregates import task as tasks
from crm_es.aggregates import timer as timers
from crm_es.aggregates import visit_plan as plans
from crm_es.aggregates.activity_types import ACTIVITY_TYPES_ID, ActivityTypes
from crm_es.aggregates.activity_types import current as current_types
from crm_es.aggregates.base import Event, InvalidInput
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.policy import PolicySettings
from crm_es.aggregates.task import Task
from crm_es.aggregates.timer import Timer
from crm_es.aggregates.visit_plan import VisitPlan, visit_plan_id
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction
from crm_es.queries import automations

NAME = "recurring-visits"
DUE = "due"  # the timers' purpose
UTC = timezone.utc


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it is shorter."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def working_day(day: date) -> date:
    """The day itself on Monday to Friday, else the Monday after."""
    return day + timedelta(days=max(0, 7 - day.weekday())) if day.weekday() >= 5 else day


def first_visit(now: datetime, hour: int) -> datetime:
    """The next working day (after today) at ``hour`` UTC."""
    return datetime.combine(working_day(now.date() + timedelta(days=1)), time(hour), UTC)


def next_visit(after: datetime, months: int, hour: int, now: datetime) -> datetime:
    """``months`` after ``after``, on a working day at ``hour``; not in the past (a visit
    closed long after its time is followed by one soon, not by one already late)."""
    at = datetime.combine(working_day(add_months(after.date(), months)), time(hour), UTC)
    return at if at > now else first_visit(now, hour)


class RecurringVisits(Policy):
    name = NAME
    description = "Every customer with the tag (Gold) gets a visit booked every few months, never two at once."
    reacts_to = (PolicySettings.Configured, Contact.Registered, Contact.DetailsChanged, Contact.OwnerChanged,
                 Contact.Forgotten, Task.Done, Timer.Fired)

    class Settings(PolicySettingsModel):
        tag: str = Field("Gold", min_length=1, max_length=60)
        every_months: int = Field(4, ge=1, le=24)
        activity_type: str = Field("customer_visit", min_length=1, max_length=60)
        hour: int = Field(10, ge=0, le=23, description="the visit's hour (UTC)")
        duration_minutes: int = Field(60, ge=5, le=600)
        # No template: a task's title is not sealed, so it must not name the person.
        title: str = Field("Customer visit", min_length=1, max_length=200)
        grace_days: float = Field(7, ge=0, le=60, description="how long an open visit past its time waits to be "
                                  "marked done before it counts as passed (cancelled, the next booked)")

    def check(self, settings: Settings, load: Loader) -> None:
        if current_types(load(ActivityTypes, ACTIVITY_TYPES_ID)).named(settings.activity_type) is None:
            raise InvalidInput("settings.activity_type", f"unknown activity type {settings.activity_type!r}")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        match event:
            case PolicySettings.Configured() if event.name == self.name:
                reaction = NOTHING
                with ctx.cursor() as cur:
                    tagged = automations.tagged_contacts(cur, ctx.settings.tag)
                for contact_id in tagged:
                    reaction += self._sync(contact_id, ctx)
                return reaction
            case Contact.Registered() if ctx.settings.tag not in event.tags:
                return NOTHING  # the common case (an import): a new contact has no visits to stop
            case Contact.Registered() | Contact.DetailsChanged() | Contact.OwnerChanged() | Contact.Forgotten():
                return self._sync(event.originator_id, ctx)
            case Task.Done() if event.contact_id is not None:
                return self._done(event, ctx)
            case Timer.Fired() if event.policy == self.name and event.purpose == DUE:
                return self._due(event, ctx)
        return NOTHING

    # --- deciding ------------------------------------------------------------------------

    def _stop_reason(self, contact: Contact | None, ctx: PolicyContext) -> str | None:
        """Why this contact gets no visits (None: they do). The contact as it is now:
        the policy may be behind the log, and books for who the contact is today."""
        if contact is None or contact.forgotten:
            return "contact forgotten"
        if ctx.settings.tag not in contact.details.tags:
            return "tag removed"
        if contact.owner_id is None:
            return "no owner"
        if ctx.active_rep(contact.owner_id) is None:
            return "owner left"  # a rep who has left is booked nothing; a new owner starts the visits again
        return None

    def _sync(self, contact_id: UUID, ctx: PolicyContext) -> Reaction:
        contact = ctx.load(Contact, contact_id)
        plan = ctx.load(VisitPlan, visit_plan_id(contact_id))
        reason = self._stop_reason(contact, ctx)
        active = plan is not None and plan.active
        if reason is None and not active:
            assert contact is not None
            return self._start(contact, plan, ctx)
        if reason is not None and active:
            assert plan is not None
            return self._stop(plan, reason, ctx)
        return NOTHING

    def _start(self, contact: Contact, plan: VisitPlan | None, ctx: PolicyContext) -> Reaction:
        """Book the first visit — or take over the one a rep already booked."""
        with ctx.cursor() as cur:
            found = automations.open_visit(cur, contact.id, ctx.settings.activity_type)
        if found is not None:
            return self._watch(contact.id, plan, found.task_id, found.due_at.astimezone(UTC), ctx, taken_over=True)
        return self._book(contact, plan, first_visit(ctx.now, ctx.settings.hour), ctx)

    def _stop(self, plan: VisitPlan, reason: str, ctx: PolicyContext) -> Reaction:
        reaction = Reaction(*timers.cancel(ctx.load(Timer, plan.timer_id), reason, ctx.meta()))
        if reason == "contact forgotten" and plan.task_id is not None:
            task = ctx.load(Task, plan.task_id)
            if task is not None and task.status == tasks.OPEN:
                reaction += Reaction(tasks.cancel(task, ctx.meta()))
        return reaction + Reaction(plans.stop(plan, reason, ctx.meta()))

    def _done(self, event: Task.Done, ctx: PolicyContext) -> Reaction:
        assert event.contact_id is not None
        plan = ctx.load(VisitPlan, visit_plan_id(event.contact_id))
        if plan is None or not plan.active or plan.task_id != event.originator_id:
            return NOTHING  # not the visit this policy waits for
        timer = ctx.load(Timer, plan.timer_id)
        reaction = Reaction(*timers.cancel(timer, "visit done", ctx.meta()))
        return reaction + self._next(plan, plans.DONE, event.occurred_at, ctx)

    def _due(self, event: Timer.Fired, ctx: PolicyContext) -> Reaction:
        """The visit's time (and the grace after it) has passed."""
        plan = ctx.load(VisitPlan, visit_plan_id(event.contact_id)) if event.contact_id else None
        if plan is None or not plan.active or plan.timer_id != event.originator_id or plan.task_id is None:
            return NOTHING  # an old timer: the visit was done, or the plan stopped, meanwhile
        task = ctx.load(Task, plan.task_id)
        if task is None:
            return NOTHING
        grace = timedelta(days=ctx.settings.grace_days)
        if task.status == tasks.OPEN and task.plan.due_at + grace > event.due_at:
            return self._watch(plan.contact_id, plan, task.id, task.plan.due_at, ctx, moved=True)  # moved later
        reaction = NOTHING
        how = {tasks.DONE: plans.DONE, tasks.CANCELLED: plans.CANCELLED}.get(task.status, plans.PASSED)
        if task.status == tasks.OPEN:
            reaction += Reaction(tasks.cancel(task, ctx.meta()))
        return reaction + self._next(plan, how, task.plan.due_at, ctx)

    def _next(self, plan: VisitPlan, how: str, after: datetime, ctx: PolicyContext) -> Reaction:
        """Close the visit and book the next one — if the contact still gets visits."""
        events = plans.closed(plan, how, ctx.meta())
        plan = VisitPlan.evolve(plan, events[0])
        contact = ctx.load(Contact, plan.contact_id)
        reason = self._stop_reason(contact, ctx)
        if reason is not None:
            return Reaction(events) + Reaction(plans.stop(plan, reason, ctx.meta()))
        assert contact is not None
        due = next_visit(after, ctx.settings.every_months, ctx.settings.hour, ctx.now)
        return Reaction(events) + self._book(contact, plan, due, ctx)

    # --- writing -------------------------------------------------------------------------

    def _book(self, contact: Contact, plan: VisitPlan | None, due: datetime, ctx: PolicyContext) -> Reaction:
        assert contact.owner_id is not None
        settings: RecurringVisits.Settings = ctx.settings
        number = (plan.visits if plan is not None else 0) + 1
        task_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{contact.id}:visit:{number}")
        wanted = tasks.TaskPlan(settings.activity_type, settings.title, due, settings.duration_minutes,
                                contact_id=contact.id)
        known = {t.name for t in current_types(ctx.load(ActivityTypes, ACTIVITY_TYPES_ID)).types}
        reaction = Reaction(tasks.plan(task_id, wanted, contact.owner_id, known, ctx.meta()))
        return reaction + self._watch(contact.id, plan, task_id, due, ctx)

    def _watch(self, contact_id: UUID, plan: VisitPlan | None, task_id: UUID, due: datetime, ctx: PolicyContext,
               moved: bool = False, taken_over: bool = False) -> Reaction:
        """A timer at the visit's time (plus the grace), and the plan saying so."""
        version = (plan.version if plan is not None else 0) + 1
        timer_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{contact_id}:timer:{version}")
        fire_at = due + timedelta(days=ctx.settings.grace_days)
        timer_events, rows = timers.schedule(timer_id, NAME, DUE, fire_at, contact_id, {"task_id": str(task_id)},
                                             ctx.meta())
        if moved:
            assert plan is not None
            events = plans.moved(plan, due, timer_id, ctx.meta())
        else:
            events = plans.book(plan, contact_id, task_id, due, timer_id, taken_over, ctx.meta())
        return Reaction([*events, *timer_events], rows)
