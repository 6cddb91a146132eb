"""The missed-meeting workflow (F21): a prospect who misses a meeting gets an e-mail
proposing free slots from the rep's agenda; with no reply and no new meeting after a few
days, a reminder; still nothing a few days later, a phone-call task for the rep.

The state of each contact's follow-up is its own record (aggregates/follow_up.py); the
waits are timers (aggregates/timer.py) with ids from the follow-up's cycle, so an answer
can cancel the one pending without looking it up. E-mails go through the outbox.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from crm_es.aggregates import follow_up as follow_ups
from crm_es.aggregates import message as messages
from crm_es.aggregates import task as tasks
from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Event, InvalidInput
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.follow_up import FollowUp, follow_up_id
from crm_es.aggregates.interactions import EmailReceived, MeetingHeld, MeetingMissed
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.task import Task
from crm_es.aggregates.timer import Timer
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction
from crm_es.policies.templates import check_template, person_values
from crm_es.queries import automations

NAME = "missed-meeting-follow-up"
VARIABLES = ("first_name", "last_name", "rep_name", "slots")
REMINDER, CALL = "reminder", "call"


def free_slots(busy: list[tuple[datetime, datetime]], after: datetime, wanted: int, minutes: int, first_hour: int,
               last_hour: int, days: tuple[int, ...], horizon_days: int = 21) -> list[datetime]:
    """The first free slot of each working day after ``after`` (UTC hours), up to
    ``wanted`` of them: one a day gives the person a real choice."""
    found: list[datetime] = []
    day = after.date() + timedelta(days=1)
    while len(found) < wanted and day <= after.date() + timedelta(days=horizon_days):
        if day.weekday() in days:
            start = datetime.combine(day, time(first_hour), tzinfo=after.tzinfo)
            end_of_day = datetime.combine(day, time(last_hour), tzinfo=after.tzinfo)
            while start + timedelta(minutes=minutes) <= end_of_day:
                end = start + timedelta(minutes=minutes)
                if not any(b_start < end and start < b_end for b_start, b_end in busy):
                    found.append(start)
                    break
                start = end
        day += timedelta(days=1)
    return found


class MissedMeetingFollowUp(Policy):
    name = NAME
    description = ("A missed meeting: an e-mail proposing free slots, a reminder if nothing comes back, then a "
                   "phone-call task for the rep.")
    reacts_to = (MeetingMissed, Timer.Fired, EmailReceived, MeetingHeld, Task.Planned)

    class Settings(PolicySettingsModel):
        reminder_after_days: float = Field(3, gt=0, le=60)
        call_after_days: float = Field(3, gt=0, le=60)
        slots: int = Field(3, ge=1, le=10)
        slot_minutes: int = Field(30, ge=10, le=240)
        first_hour: int = Field(9, ge=0, le=23, description="the working day's first hour (UTC)")
        last_hour: int = Field(17, ge=1, le=24, description="the hour the working day ends (UTC)")
        working_days: tuple[int, ...] = Field((0, 1, 2, 3, 4), description="0 is Monday")
        subject: str = Field("Sorry we missed you", min_length=1, max_length=200)
        body: str = Field("Hello {first_name},\n\nWe missed each other. Would one of these times suit you?\n\n"
                          "{slots}\n\nBest regards,\n{rep_name}", min_length=1, max_length=10_000)
        reminder_subject: str = Field("Shall we find another time?", min_length=1, max_length=200)
        reminder_body: str = Field("Hello {first_name},\n\nJust checking whether one of these times suits you:\n\n"
                                   "{slots}\n\nBest regards,\n{rep_name}", min_length=1, max_length=10_000)
        call_title: str = Field("Call {first_name} {last_name}: missed meeting, no answer", min_length=1,
                                max_length=200)

    def check(self, settings: Settings, load: Loader) -> None:
        for field in ("subject", "body", "reminder_subject", "reminder_body", "call_title"):
            check_template(f"settings.{field}", getattr(settings, field), VARIABLES)
        if settings.last_hour <= settings.first_hour:
            raise InvalidInput("settings.last_hour", "the working day must end after it starts")
        if not settings.working_days or any(d not in range(7) for d in settings.working_days):
            raise InvalidInput("settings.working_days", "days are 0 (Monday) to 6 (Sunday), at least one")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        match event:
            case MeetingMissed():
                return self._missed(event, ctx)
            case Timer.Fired() if event.policy == self.name:
                return self._due(event, ctx)
            case EmailReceived() | MeetingHeld():
                return self._answered(event.originator_id, event.kind, ctx)
            case Task.Planned() if event.contact_id is not None and event.type.startswith("meeting"):
                return self._answered(event.contact_id, "meeting planned", ctx)
        return NOTHING

    def _missed(self, event: MeetingMissed, ctx: PolicyContext) -> Reaction:
        contact = ctx.load(Contact, event.originator_id)
        state = ctx.load(FollowUp, follow_up_id(event.originator_id))
        # The rep who missed it writes, or the contact's owner: whichever is still with us.
        rep_id = ctx.active_rep(event.rep_id, contact.owner_id) if contact else None
        if contact is None or contact.forgotten or rep_id is None or self._following(state, ctx):
            return NOTHING  # no one to write to or for, or already following up
        settings: MissedMeetingFollowUp.Settings = ctx.settings
        with ctx.cursor() as cur:  # the rep's agenda: what is planned in the weeks ahead
            busy = automations.busy_slots(cur, rep_id, ctx.now - timedelta(days=1), ctx.now + timedelta(days=23))
        slots = free_slots(busy, max(ctx.now, event.occurred_at), settings.slots, settings.slot_minutes,
                           settings.first_hour, settings.last_hour, settings.working_days)
        started = follow_ups.start(state, contact.id, rep_id, slots, ctx.meta())
        cycle = started[0].cycle
        if contact.details.email is None or contact.email_invalid:  # nowhere to write: straight to a call
            return Reaction(started) + self._call(FollowUp.evolve(state, started[0]), contact, ctx)
        reaction = Reaction(started) + self._email(contact, rep_id, slots, cycle, settings.subject, settings.body, ctx)
        return reaction + self._timer(contact.id, cycle, REMINDER, settings.reminder_after_days, slots, ctx)

    def _following(self, state: FollowUp | None, ctx: PolicyContext) -> bool:
        """A follow-up still under way: open, and its wait still pending. One whose timer
        fired while the policy was switched off went nowhere: a new miss starts afresh."""
        if state is None or not state.open:
            return False
        waiting = REMINDER if state.stage == follow_ups.PROPOSED else CALL
        timer = ctx.load(Timer, _timer_id(state.contact_id, state.cycle, waiting))
        return timer is not None and timer.status == messages.PENDING

    def _due(self, event: Timer.Fired, ctx: PolicyContext) -> Reaction:
        contact_id = event.contact_id
        state = ctx.load(FollowUp, follow_up_id(contact_id)) if contact_id else None
        contact = ctx.load(Contact, contact_id)
        if state is None or contact is None or state.cycle != event.data.get("cycle") or contact.forgotten:
            return NOTHING
        settings: MissedMeetingFollowUp.Settings = ctx.settings
        if event.purpose == REMINDER and state.stage == follow_ups.PROPOSED:
            slots = [datetime.fromisoformat(s) for s in event.data.get("slots", [])]
            reaction = Reaction(follow_ups.remind(state, ctx.meta()))
            signer = ctx.active_rep(state.rep_id, contact.owner_id) or state.rep_id  # a rep who left signs no more
            reaction += self._email(contact, signer, slots, state.cycle, settings.reminder_subject,
                                    settings.reminder_body, ctx, REMINDER)
            return reaction + self._timer(contact.id, state.cycle, CALL, settings.call_after_days, slots, ctx)
        if event.purpose == CALL and state.stage == follow_ups.REMINDED:
            return self._call(state, contact, ctx)
        return NOTHING

    def _answered(self, contact_id: UUID, how: str, ctx: PolicyContext) -> Reaction:
        state = ctx.load(FollowUp, follow_up_id(contact_id))
        if state is None or not state.open:
            return NOTHING
        pending = REMINDER if state.stage == follow_ups.PROPOSED else CALL
        timer = ctx.load(Timer, _timer_id(contact_id, state.cycle, pending))
        events, rows = timers.cancel(timer, f"answered: {how}", ctx.meta())
        return Reaction(follow_ups.answered(state, how, ctx.meta())) + Reaction(events, rows)

    def _call(self, state: FollowUp, contact: Contact, ctx: PolicyContext) -> Reaction:
        settings: MissedMeetingFollowUp.Settings = ctx.settings
        task_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{self.name}:{state.id}:{state.cycle}:call")
        title = settings.call_title.format(**_variables(contact, None, []))[:200]
        plan = tasks.TaskPlan("call", title, ctx.now, contact_id=contact.id)
        # Days have passed since the miss: a rep who has left since gives the call to the owner.
        rep_id = ctx.active_rep(state.rep_id, contact.owner_id)
        if rep_id is None:
            return NOTHING  # no one left to call them; a new miss starts afresh
        return Reaction([*tasks.plan(task_id, plan, rep_id, {"call"}, ctx.meta()),
                         *follow_ups.call_planned(state, task_id, ctx.meta())])

    def _email(self, contact: Contact, rep_id: UUID, slots: list[datetime], cycle: int, subject: str, body: str,
               ctx: PolicyContext, which: str = "proposal") -> Reaction:
        rep = ctx.load(Rep, rep_id)
        values = _variables(contact, rep, slots)
        message_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{self.name}:{contact.id}:{cycle}:mail:{which}")
        events, row = messages.queue(message_id, "email", contact.details.email or "", body.format(**values), self.name,
                                     ctx.meta(), contact_id=contact.id, subject=subject.format(**values))
        return Reaction(events, [row])

    def _timer(self, contact_id: UUID, cycle: int, purpose: str, days: float, slots: list[datetime],
               ctx: PolicyContext) -> Reaction:
        data: dict[str, Any] = {"cycle": cycle, "slots": [s.isoformat() for s in slots]}
        events, rows = timers.schedule(_timer_id(contact_id, cycle, purpose), self.name, purpose,
                                       ctx.now + timedelta(days=days), contact_id, data, ctx.meta())
        return Reaction(events, rows)


def _timer_id(contact_id: UUID, cycle: int, purpose: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{contact_id}:{cycle}:timer:{purpose}")


def _variables(contact: Contact, rep: Rep | None, slots: list[datetime]) -> dict[str, str]:
    return {**person_values(contact, rep), "slots": "\n".join(f"- {s:%A %d %B, %H:%M} UTC" for s in slots)}
