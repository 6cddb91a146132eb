"""Companies and contacts: the records the sales team works on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.aggregates import Company, Contact, Rep
from crm_es.aggregates import company as companies
from crm_es.aggregates import contact as contacts
from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.record_values import RecordValues, checked
from crm_es.commands.context import CommandContext, CommandResult
from crm_es.commands.deals import erase_texts_naming
from crm_es.commands.setup import read_setup
from crm_es.store import Claim

EMAIL_SCOPE = "contact-email"
DEFAULT_STATUS = "prospect"


@dataclass(frozen=True)
class RegisterCompany:
    details: CompanyDetails
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ChangeCompany:
    company_id: UUID
    changes: dict[str, Any]
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class RegisterContact:
    details: ContactDetails
    status: str | None = None
    owner_id: UUID | None = None
    occurred_at: datetime | None = None
    lifecycle: str | None = None
    roles: tuple[str, ...] = ()  # at the contact's company


@dataclass(frozen=True)
class ForgetContact:
    contact_id: UUID
    reason: str | None = None


@dataclass(frozen=True)
class ChangeContact:
    contact_id: UUID
    changes: dict[str, Any] = field(default_factory=dict)  # ContactDetails fields present in the request
    status: str | None = None
    owner_id: UUID | None = None
    owner_given: bool = False
    occurred_at: datetime | None = None
    lifecycle: str | None = None
    roles: tuple[str, ...] | None = None  # None: kept as they are


@dataclass(frozen=True)
class LeaveCompany:
    contact_id: UUID
    note: str | None = None
    occurred_at: datetime | None = None


def register_company(cmd: RegisterCompany, ctx: CommandContext) -> CommandResult:
    setup, _ = read_setup(ctx)
    values = checked(setup, "company", RecordValues(properties=cmd.details.properties or {}))
    company_id = ctx.new_id()
    events = companies.register(company_id, replace(cmd.details, properties=values.properties), ctx.meta(cmd.occurred_at))
    return ctx.save(company_id, events, created=True)


def change_company(cmd: ChangeCompany, ctx: CommandContext) -> CommandResult:
    setup, [company] = read_setup(ctx, (Company, cmd.company_id, None))
    company = ctx.check_target(company)
    changes = cmd.changes
    if changes.get("properties") is not None:  # replaced as a whole: checked as at creation
        changes = {**changes, "properties": checked(setup, "company", RecordValues(changes["properties"])).properties}
    events = companies.change(company, changes, ctx.meta(cmd.occurred_at))
    return ctx.save(company.id, events, current_version=company.version)


def email_claim(email: str, contact_id: UUID) -> Claim:
    return Claim(EMAIL_SCOPE, email.strip().casefold(), contact_id)


def _claim_email(ctx: CommandContext, email: str, contact_id: UUID) -> Claim:
    claim = email_claim(email, contact_id)
    # The detail does not repeat the address: refusals are kept with their Idempotency-Key.
    ctx.check_claim(claim, "email-already-registered", "a contact with this e-mail is already registered")
    return claim


def register_contact(cmd: RegisterContact, ctx: CommandContext) -> CommandResult:
    # The configuration, the company and the owner in one read.
    setup, [_, owner] = read_setup(ctx, (Company, cmd.details.company_id, "company_id"), (Rep, cmd.owner_id, "owner_id"))
    values = checked(setup, "contact", RecordValues(
        cmd.details.properties or {}, cmd.status, cmd.details.source, cmd.lifecycle, cmd.roles,
    ))
    details = replace(cmd.details, properties=values.properties, source=values.source)
    status = values.status or (DEFAULT_STATUS if DEFAULT_STATUS in setup.statuses else setup.statuses[0])
    contact_id = ctx.new_id()
    claim = _claim_email(ctx, cmd.details.email, contact_id)
    meta = ctx.meta(cmd.occurred_at)
    reps.check_assignable(owner, meta.occurred_at, "owner_id")
    events = contacts.register(contact_id, details, status, cmd.owner_id, meta)
    events += _standing(contacts.fold_onto(None, events), values, meta)
    return ctx.save(contact_id, events, created=True, claims=[claim])


def _standing(contact: Contact, values: RecordValues, meta: Meta) -> list[Event]:
    """Lifecycle stage and roles, decided on the contact as its other changes left it."""
    events = contacts.change_lifecycle(contact, values.lifecycle, meta)
    return events + contacts.settle_roles(contacts.fold_onto(contact, events), values.roles, meta)


def change_contact(cmd: ChangeContact, ctx: CommandContext) -> CommandResult:
    setup, [contact] = read_setup(ctx, (Contact, cmd.contact_id, None))
    contact = ctx.check_target(contact)
    values = checked(setup, "contact", RecordValues(
        cmd.changes.get("properties"), cmd.status, cmd.changes.get("source"), cmd.lifecycle, cmd.roles,
    ))
    changes = {**cmd.changes, **{f: getattr(values, f) for f in ("properties", "source") if f in cmd.changes}}
    meta = ctx.meta(cmd.occurred_at)
    # Decided first: a forgotten contact is refused before its (erased) e-mail is looked at.
    events = contacts.change(contact, changes, values.status, cmd.owner_id, cmd.owner_given, meta)
    events += _standing(contacts.fold_onto(contact, events), values, meta)
    ctx.exists(Company, cmd.changes.get("company_id"), "company_id")
    if cmd.owner_given and cmd.owner_id is not None:
        owner = ctx.load(Rep, cmd.owner_id, "owner_id")
        if owner.id != contact.owner_id:  # a contact of a deactivated rep may still be changed
            reps.check_assignable(owner, meta.occurred_at, "owner_id")
    claims, releases = [], []
    new_email = cmd.changes.get("email")
    if new_email is not None and email_claim(new_email, contact.id) != email_claim(contact.details.email, contact.id):
        claims.append(_claim_email(ctx, new_email, contact.id))
        releases.append(email_claim(contact.details.email, contact.id))
    return ctx.save(contact.id, events, current_version=contact.version, claims=claims, releases=releases)


def forget_contact(cmd: ForgetContact, ctx: CommandContext) -> CommandResult:
    """Erase first, then record: the keys go — the contact's (with the e-mail claim), then
    the text keys of the deals that ever named them — before the events are saved, so a
    crash in between leaves the data erased and a retry finishes it."""
    contact = ctx.target(Contact, cmd.contact_id)
    meta = ctx.meta()
    events = contacts.forget(contact, cmd.reason, meta)
    if events:
        ctx.erase_personal_data(contact.id)
        events += erase_texts_naming(ctx, contact.id, meta)  # after: see commands/deals.py
    return ctx.save(contact.id, events, current_version=contact.version)


def leave_company(cmd: LeaveCompany, ctx: CommandContext) -> CommandResult:
    """F39: the person left their company; their roles there end, the history stays."""
    contact = ctx.target(Contact, cmd.contact_id)
    return ctx.save(contact.id, contacts.leave_company(contact, cmd.note, ctx.meta(cmd.occurred_at)), current_version=contact.version)
