"""Drip sequences (F19): pre-written e-mails sent one after another with delays to the
contacts that come to match a sequence's criteria. A reply, a hand-over to a rep, an
unsubscribe (or the person forgotten) stops it.

Each contact's place in each sequence is its own record (aggregates/drip.py); the waits
between steps are timers (aggregates/timer.py) with ids from the enrolment and the step, so
a stop cancels the pending one without looking it up. E-mails go through the outbox, whose
delivery id is the e-mail's Message-ID: a tracking client reports opens and clicks with it
(EmailOpened / EmailClicked on the contact, as any interaction).
"""

from __future__ import annotations

from datetime import timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from crm_es.aggregates import drip
from crm_es.aggregates import message as messages
from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Event, InvalidInput
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.drip import Enrolment, enrolment_id
from crm_es.aggregates.interactions import EmailReceived
from crm_es.aggregates.lead_score import LeadHandedToRep
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.timer import Timer
from crm_es.aggregates.unsubscription import Unsubscription, unsubscription_id
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction
from crm_es.policies.templates import check_template, person_values, unique_names

NAME = "drip-sequences"
VARIABLES = ("first_name", "last_name", "rep_name")
STEP = "step"  # the timers' purpose
# Why a sequence stopped: fixed words, never anything about the person.
REPLIED, HANDED_OVER, UNSUBSCRIBED, FORGOTTEN = "replied", "handed to a rep", "unsubscribed", "forgotten"
NO_ADDRESS, REMOVED = "no working e-mail address", "sequence removed from the settings"


class EnrolWhen(PolicySettingsModel):
    """Every criterion given must match (none given: every contact)."""

    status: str | None = Field(None, min_length=1, max_length=60)
    tag: str | None = Field(None, min_length=1, max_length=60)
    source: str | None = Field(None, min_length=1, max_length=60)
    lifecycle: str | None = Field(None, min_length=1, max_length=60)

    def matches(self, contact: Contact) -> bool:
        return ((self.status is None or contact.status == self.status)
                and (self.tag is None or self.tag in contact.details.tags)
                and (self.source is None or contact.details.source == self.source)
                and (self.lifecycle is None or contact.lifecycle == self.lifecycle))


class Step(PolicySettingsModel):
    after_days: float = Field(0, ge=0, le=366, description="days after the previous step (the first: after enrolment)")
    subject: str = Field(min_length=1, max_length=200, description="a template: {first_name} {last_name} {rep_name}")
    body: str = Field(min_length=1, max_length=10_000, description="a template: {first_name} {last_name} {rep_name}")


class Sequence(PolicySettingsModel):
    name: str = Field(min_length=1, max_length=100, description="names the sequence for good: renamed, it is a new one")
    enrol_when: EnrolWhen = Field(default_factory=EnrolWhen)
    steps: list[Step] = Field(min_length=1, max_length=50)


class DripSequences(Policy):
    name = NAME
    description = ("Sequences of pre-written e-mails with delays for the contacts that match; a reply, a hand-over "
                   "or an unsubscribe stops them.")
    reacts_to = (Contact.Registered, Contact.DetailsChanged, Contact.StatusChanged, Contact.LifecycleChanged,
                 Timer.Fired, EmailReceived, LeadHandedToRep, Unsubscription.Unsubscribed, Contact.Forgotten)

    class Settings(PolicySettingsModel):
        sequences: list[Sequence] = Field(default_factory=list, max_length=50)

    def check(self, settings: Settings, load: Loader) -> None:
        unique_names((s.name for s in settings.sequences), "settings.sequences", "sequences")
        for i, sequence in enumerate(settings.sequences):
            for j, step in enumerate(sequence.steps):
                where = f"settings.sequences[{i}].steps[{j}]"
                check_template(f"{where}.subject", step.subject, VARIABLES)
                check_template(f"{where}.body", step.body, VARIABLES)
                if "\r" in step.subject or "\n" in step.subject:
                    raise InvalidInput(f"{where}.subject", "no line breaks in a subject")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        match event:
            case Timer.Fired() if event.policy == self.name and event.purpose == STEP:
                return self._due(event, ctx)
            case Timer.Fired():
                return NOTHING
            case EmailReceived():
                return self._stop_all(event.originator_id, REPLIED, ctx)
            case LeadHandedToRep():
                return self._stop_all(event.contact_id, HANDED_OVER, ctx)
            case Unsubscription.Unsubscribed():
                return self._stop_all(event.contact_id, UNSUBSCRIBED, ctx)
            case Contact.Forgotten():
                return self._stop_all(event.originator_id, FORGOTTEN, ctx)
        return self._enrol(event.originator_id, ctx)  # a contact registered or changed

    def _enrol(self, contact_id: UUID, ctx: PolicyContext) -> Reaction:
        """Enrol the contact in each sequence it now matches and has never been in."""
        settings: DripSequences.Settings = ctx.settings
        if not settings.sequences:
            return NOTHING  # switched on with nothing to send: no need to read the contact
        contact = ctx.load(Contact, contact_id)
        if contact is None or _unreachable(contact) or ctx.load(Unsubscription, unsubscription_id(contact_id)):
            return NOTHING  # changed to have an address later, it comes to match then
        reaction = NOTHING
        for sequence in settings.sequences:
            if sequence.enrol_when.matches(contact) and ctx.load(Enrolment, enrolment_id(contact.id, sequence.name)) is None:
                enrolled = drip.enrol(contact.id, sequence.name, ctx.meta())
                reaction += Reaction(enrolled) + self._go_on(Enrolment.fold(enrolled), sequence, contact, False, ctx)
        return reaction

    def _due(self, event: Timer.Fired, ctx: PolicyContext) -> Reaction:
        state = ctx.load(Enrolment, enrolment_id(event.contact_id, event.data["sequence"])) if event.contact_id else None
        if state is None or not state.active or state.next_step != event.data.get("step"):
            return NOTHING  # stopped meanwhile, or a timer of a step already past
        contact = ctx.load(Contact, state.contact_id)
        settings: DripSequences.Settings = ctx.settings
        sequence = next((s for s in settings.sequences if s.name == state.sequence), None)
        why = (FORGOTTEN if contact is None or contact.forgotten else NO_ADDRESS if _unreachable(contact)
               else UNSUBSCRIBED if ctx.load(Unsubscription, unsubscription_id(state.contact_id))
               else REMOVED if sequence is None else None)
        if why is not None:
            return Reaction(drip.stop(state, why, ctx.meta()))
        assert contact is not None and sequence is not None
        return self._go_on(state, sequence, contact, True, ctx)

    def _go_on(self, state: Enrolment, sequence: Sequence, contact: Contact, due: bool, ctx: PolicyContext) -> Reaction:
        """The enrolment's next step: its e-mail now when ``due`` (its timer fired) or when
        it need not wait, else its timer. After an e-mail, the step that follows is always
        a timer (due at once for a wait of 0 days), so each e-mail is queued after the one
        before it, in order; after the last step, the sequence is completed."""
        if state.next_step >= len(sequence.steps):
            return Reaction(drip.complete(state, ctx.meta()))
        step = sequence.steps[state.next_step]
        if not due and step.after_days > 0:
            return self._timer(state, contact.id, step.after_days, ctx)
        message_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{self.name}:{state.id}:mail:{state.next_step}")
        values = person_values(contact, ctx.load(Rep, contact.owner_id))
        subject = " ".join(step.subject.format(**values).split())[:200]  # a name with a line break stays one line
        events, row = messages.queue(message_id, messages.EMAIL, contact.details.email or "", step.body.format(**values),
                                     self.name, ctx.meta(), contact_id=contact.id, subject=subject)
        queued = drip.step_queued(state, message_id, ctx.meta())
        state = Enrolment.evolve(state, queued[0])
        if state.next_step >= len(sequence.steps):
            return Reaction([*events, *queued, *drip.complete(state, ctx.meta())], [row])
        return Reaction([*events, *queued], [row]) + self._timer(state, contact.id,
                                                                 sequence.steps[state.next_step].after_days, ctx)

    def _timer(self, state: Enrolment, contact_id: UUID, days: float, ctx: PolicyContext) -> Reaction:
        events, rows = timers.schedule(_timer_id(state.id, state.next_step), self.name, STEP,
                                       ctx.now + timedelta(days=days), contact_id,
                                       {"sequence": state.sequence, "step": state.next_step}, ctx.meta())
        return Reaction(events, rows)

    def _stop_all(self, contact_id: UUID, reason: str, ctx: PolicyContext) -> Reaction:
        """Stop every sequence running for the contact, and cancel its pending timer. (A
        sequence removed from the settings stops when its timer fires.)"""
        reaction = NOTHING
        settings: DripSequences.Settings = ctx.settings
        for sequence in settings.sequences:
            state = ctx.load(Enrolment, enrolment_id(contact_id, sequence.name))
            if state is None or not state.active:
                continue
            events, rows = timers.cancel(ctx.load(Timer, _timer_id(state.id, state.next_step)), reason, ctx.meta())
            reaction += Reaction(drip.stop(state, reason, ctx.meta())) + Reaction(events, rows)
        return reaction


def _unreachable(contact: Contact) -> bool:
    return contact.forgotten or contact.details.email is None or contact.email_invalid


def _timer_id(enrolment: UUID, step: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{enrolment}:timer:{step}")
