"""Payment follow-up (F22): an invoice still owed after its due date gets e-mail reminders
to the customer, the invoice attached — the first once the due date has passed (the next
day, 00:00 UTC, plus ``grace_days``), then every ``repeat_days``, up to ``max_reminders``.
A payment that settles the invoice, or voiding it, cancels the reminder pending; a partial
payment does not (the reminder says what is left). A reminder that comes due checks again
that the invoice is still owed.

Each reminder waits on a timer whose id comes from the invoice and its place in the series
(the first, the second …): the one pending is found without a lookup, and each reminder is
queued once, whatever happens.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import Field

from crm_es.aggregates import message as messages
from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Event, InvalidInput
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.document import ISSUED, Document
from crm_es.aggregates.document_template import INVOICE
from crm_es.aggregates.message import PENDING
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.timer import Timer
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction, cause_of
from crm_es.policies.templates import check_template, person_values, render

NAME = "payment-follow-up"
REMINDER = "payment-reminder"
VARIABLES = ("first_name", "last_name", "rep_name", "number", "total", "balance", "currency", "due_on", "days_overdue")


class PaymentFollowUp(Policy):
    name = NAME
    description = ("E-mail reminders of an invoice still owed after its due date, the invoice attached, every few "
                   "days until it is paid or voided (at most max_reminders).")
    reacts_to = (Document.Issued, Document.PaymentRecorded, Document.Voided, Timer.Fired)

    class Settings(PolicySettingsModel):
        grace_days: int = Field(0, ge=0, le=365, description="days after the due date before the first reminder")
        repeat_days: int = Field(7, ge=1, le=365, description="days between two reminders")
        max_reminders: int = Field(3, ge=1, le=100, description="reminders of one invoice, at most")
        subject: str = Field("Reminder: invoice {number} is overdue", min_length=1, max_length=200)
        body: str = Field("Hello {first_name},\n\nOur invoice {number} for {total} {currency} was due on {due_on}: "
                          "{balance} {currency} remain to be paid. You will find it attached.\n\nIf you have paid it "
                          "meanwhile, please disregard this reminder.\n\nBest regards,\n{rep_name}",
                          min_length=1, max_length=10_000)

    def check(self, settings: Settings, load: Loader) -> None:
        for field in ("subject", "body"):
            check_template(f"settings.{field}", getattr(settings, field), VARIABLES)
        if "\n" in settings.subject or "\r" in settings.subject:
            raise InvalidInput("settings.subject", "an e-mail's subject is one line")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        match event:
            case Document.Issued() if event.kind == INVOICE and event.due_on is not None:
                return self._schedule(event.originator_id, event.contact_id, 0,
                                      first_reminder_at(event.due_on, ctx.settings.grace_days), ctx)
            case Document.PaymentRecorded() | Document.Voided():
                document = ctx.load(Document, event.originator_id)
                if document is None or document.status == ISSUED:
                    return NOTHING  # a part paid: the reminders go on, for what is left
                pending = _pending(document.id, ctx)
                return Reaction(*timers.cancel(pending, f"invoice {document.number} is {document.status}", ctx.meta()))
            case Timer.Fired() if event.policy == self.name and event.purpose == REMINDER:
                return self._remind(event, ctx)
        return NOTHING

    def _schedule(self, document_id: UUID, contact_id: UUID, reminder: int, at: datetime,
                  ctx: PolicyContext) -> Reaction:
        events, rows = timers.schedule(_timer_id(document_id, reminder), self.name, REMINDER, at, contact_id,
                                       {"document_id": str(document_id), "reminder": reminder}, ctx.meta())
        return Reaction(events, rows)

    def _remind(self, fired: Timer.Fired, ctx: PolicyContext) -> Reaction:
        settings: PaymentFollowUp.Settings = ctx.settings
        document = ctx.load(Document, UUID(fired.data["document_id"]))
        if document is None or document.status != ISSUED or document.due_on is None:
            return NOTHING  # paid or voided meanwhile
        contact = ctx.load(Contact, document.contact_id)
        if contact is None or contact.forgotten:
            return NOTHING
        reminder = int(fired.data["reminder"])
        reaction = NOTHING
        if contact.details.email and not contact.email_invalid:  # else no way to reach them this time
            rep = ctx.load(Rep, document.rep_id or contact.owner_id)
            values = {**person_values(contact, rep), "number": document.number, "total": str(document.total),
                      "balance": str(document.balance), "currency": document.currency,
                      "due_on": document.due_on.isoformat(), "days_overdue": str((ctx.now.date() - document.due_on).days)}
            message_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{self.name}:reminder:{cause_of(fired)}")
            events, row = messages.queue(message_id, messages.EMAIL, contact.details.email, render(settings.body, values),
                                         self.name, ctx.meta(), contact_id=contact.id,
                                         subject=render(settings.subject, values), attachments=(document.id,))
            reaction = Reaction(events, [row])
        if reminder + 1 < settings.max_reminders:
            at = fired.due_at + timedelta(days=settings.repeat_days)
            reaction += self._schedule(document.id, contact.id, reminder + 1, at, ctx)
        return reaction


def first_reminder_at(due_on: date, grace_days: int) -> datetime:
    """Once the due date has passed: the next day at 00:00 UTC, plus the grace."""
    return datetime.combine(due_on + timedelta(days=1 + grace_days), time(0), tzinfo=timezone.utc)


def _timer_id(document_id: UUID, reminder: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{document_id}:{reminder}")


def _pending(document_id: UUID, ctx: PolicyContext) -> Timer | None:
    """The invoice's reminder still waiting: its timers are set one after the other."""
    reminder = 0
    while (timer := ctx.load(Timer, _timer_id(document_id, reminder))) is not None:
        if timer.status == PENDING:
            return timer
        reminder += 1
    return None
