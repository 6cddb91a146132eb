"""Lifecycle triggers (F38): the touches of a customer's cycle — a thank-you when a deal is
won, an onboarding call a week later, a note when they become loyal, a renewal e-mail a
month before the anniversary of an annual contract … each fired by what the customer did.

A touch is a trigger (an event of theirs), a delay (0: at once; else a timer), and an
action (an e-mail through the outbox, or a task for their rep). Ids come from the touch
and the triggering event: a touch fires once per trigger, whatever happens.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_es.aggregates import message as messages
from crm_es.aggregates import task as tasks
from crm_es.aggregates import timer as timers
from crm_es.aggregates.activity_types import ACTIVITY_TYPES_ID, ActivityTypes
from crm_es.aggregates.activity_types import current as current_types
from crm_es.aggregates.base import Event, InvalidInput
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.deal import Deal
from crm_es.aggregates.interactions import MeetingHeld, QuoteOpened
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.timer import Timer
from crm_es.aggregates.unsubscription import Unsubscription, unsubscription_id
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction, cause_of
from crm_es.policies.templates import check_template, person_values, render, unique_names

NAME = "lifecycle-touches"
VARIABLES = ("first_name", "last_name", "rep_name", "deal_title")
Trigger = Literal["deal_won", "renewal", "lifecycle_changed", "meeting_held", "quote_opened"]


class Touch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")
    trigger: Trigger
    lifecycle: str | None = Field(None, description="lifecycle_changed: the stage the contact comes to")
    delay_days: float = Field(0, ge=0, le=3660, description="after the trigger (renewal: before the anniversary)")
    action: Literal["email", "task"] = "email"
    subject: str = Field("Thank you", min_length=1, max_length=200)
    body: str = Field("Hello {first_name},\n\n…\n\n{rep_name}", min_length=1, max_length=10_000)
    task_type: str = Field("call", min_length=1, max_length=60)
    task_title: str = Field("Call {first_name} {last_name}", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _lifecycle_named(self) -> Touch:
        if (self.trigger == "lifecycle_changed") != (self.lifecycle is not None):
            raise ValueError("`lifecycle` names the stage for a lifecycle_changed trigger, and only for it")
        return self


class LifecycleTouches(Policy):
    name = NAME
    description = "The touches of a customer's cycle, each fired by what the customer did (won, renewal due, loyal …)."
    reacts_to = (Deal.Won, Contact.LifecycleChanged, MeetingHeld, QuoteOpened, Timer.Fired)

    class Settings(PolicySettingsModel):
        touches: list[Touch] = Field(default_factory=list, max_length=15)

    def check(self, settings: Settings, load: Loader) -> None:
        unique_names((t.name for t in settings.touches), "settings.touches", "touches")
        for i, touch in enumerate(settings.touches):
            for field in ("subject", "body", "task_title"):
                check_template(f"settings.touches[{i}].{field}", getattr(touch, field), VARIABLES)
            if touch.action == "task" and current_types(load(ActivityTypes, ACTIVITY_TYPES_ID)).named(touch.task_type) is None:
                raise InvalidInput(f"settings.touches[{i}].task_type", f"unknown activity type {touch.task_type!r}")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        settings: LifecycleTouches.Settings = ctx.settings
        if isinstance(event, Timer.Fired):
            return self._due(event, settings, ctx) if event.policy == self.name else NOTHING
        contact_id, deal_id = self._who(event, ctx)
        if contact_id is None:
            return NOTHING
        reaction = NOTHING
        for touch in settings.touches:
            if self._fires(touch, event):
                reaction += self._schedule(touch, event, contact_id, deal_id, ctx)
        return reaction

    @staticmethod
    def _who(event: Event, ctx: PolicyContext) -> tuple[UUID | None, UUID | None]:
        """The customer a trigger is about (a deal's: its first contact), and the deal."""
        if isinstance(event, Deal.Won):
            deal = ctx.load(Deal, event.originator_id)
            contacts = deal.details.contact_ids if deal is not None else ()
            return (contacts[0] if contacts else None), event.originator_id
        return event.originator_id, getattr(event, "deal_id", None)

    @staticmethod
    def _fires(touch: Touch, event: Event) -> bool:
        match event:
            case Deal.Won():
                return touch.trigger in ("deal_won", "renewal")
            case Contact.LifecycleChanged():
                return touch.trigger == "lifecycle_changed" and event.stage == touch.lifecycle
            case MeetingHeld():
                return touch.trigger == "meeting_held"
            case QuoteOpened():
                return touch.trigger == "quote_opened"
        return False

    def _schedule(self, touch: Touch, event: Event, contact_id: UUID, deal_id: UUID | None,
                  ctx: PolicyContext) -> Reaction:
        if touch.trigger == "renewal":  # a year after the win, less the notice asked for
            at = event.occurred_at + timedelta(days=365 - touch.delay_days)
        else:
            at = event.occurred_at + timedelta(days=touch.delay_days)
        key = f"{touch.name}:{cause_of(event)}"
        if at <= ctx.now:
            return self._act(touch, key, contact_id, deal_id, ctx)
        data: dict[str, Any] = {"touch": touch.name, "key": key, "deal_id": None if deal_id is None else str(deal_id)}
        events, rows = timers.schedule(_id(key, "timer"), self.name, touch.name, at, contact_id, data, ctx.meta())
        return Reaction(events, rows)

    def _due(self, event: Timer.Fired, settings: Settings, ctx: PolicyContext) -> Reaction:
        touch = next((t for t in settings.touches if t.name == event.data.get("touch")), None)
        if touch is None or event.contact_id is None:
            return NOTHING  # the touch was removed from the settings meanwhile
        deal_id = event.data.get("deal_id")
        return self._act(touch, event.data["key"], event.contact_id, UUID(deal_id) if deal_id else None, ctx)

    def _act(self, touch: Touch, key: str, contact_id: UUID, deal_id: UUID | None, ctx: PolicyContext) -> Reaction:
        contact = ctx.load(Contact, contact_id)
        if contact is None or contact.forgotten:
            return NOTHING
        deal = ctx.load(Deal, deal_id)
        rep_id = (deal.owner_id if deal is not None else None) or contact.owner_id
        rep = ctx.load(Rep, rep_id)
        values = {**person_values(contact, rep), "deal_title": (deal.details.title or "") if deal else ""}
        if touch.action == "task":
            rep_id = ctx.active_rep(deal.owner_id if deal is not None else None, contact.owner_id)
            if rep_id is None:
                return NOTHING  # no active rep's agenda to put it in
            plan = tasks.TaskPlan(touch.task_type, render(touch.task_title, values)[:200], ctx.now, contact_id=contact.id,
                                  deal_id=deal_id)
            known = {t.name for t in current_types(ctx.load(ActivityTypes, ACTIVITY_TYPES_ID)).types}
            return Reaction(tasks.plan(_id(key, "task"), plan, rep_id, known, ctx.meta()))
        if contact.details.email is None or contact.email_invalid:
            return NOTHING
        if ctx.load(Unsubscription, unsubscription_id(contact.id)) is not None:
            return NOTHING  # they asked for no automated e-mails; a rep's task (above) is a person's call
        events, row = messages.queue(_id(key, "mail"), "email", contact.details.email, render(touch.body, values),
                                     self.name, ctx.meta(), contact_id=contact.id, subject=render(touch.subject, values))
        return Reaction(events, [row])


def _id(key: str, what: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{key}:{what}")
