"""Companies and contacts: the records the sales team works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.aggregates import Company, Contact, Rep
from crm_es.aggregates import company as companies
from crm_es.aggregates import contact as contacts
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.commands.context import CommandContext, CommandResult
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


def register_company(cmd: RegisterCompany, ctx: CommandContext) -> CommandResult:
    company_id = ctx.new_id()
    events = companies.register(company_id, cmd.details, ctx.meta(cmd.occurred_at))
    return ctx.save(company_id, events, created=True)


def change_company(cmd: ChangeCompany, ctx: CommandContext) -> CommandResult:
    company = ctx.target(Company, cmd.company_id)
    events = companies.change(company, cmd.changes, ctx.meta(cmd.occurred_at))
    return ctx.save(company.id, events, current_version=company.version)


def email_claim(email: str, contact_id: UUID) -> Claim:
    return Claim(EMAIL_SCOPE, email.strip().casefold(), contact_id)


def _claim_email(ctx: CommandContext, email: str, contact_id: UUID) -> Claim:
    claim = email_claim(email, contact_id)
    # The detail does not repeat the address: refusals are kept with their Idempotency-Key.
    ctx.check_claim(claim, "email-already-registered", "a contact with this e-mail is already registered")
    return claim


def register_contact(cmd: RegisterContact, ctx: CommandContext) -> CommandResult:
    ctx.exists(Company, cmd.details.company_id, "company_id")
    ctx.exists(Rep, cmd.owner_id, "owner_id")
    contact_id = ctx.new_id()
    claim = _claim_email(ctx, cmd.details.email, contact_id)
    events = contacts.register(contact_id, cmd.details, cmd.status or DEFAULT_STATUS, cmd.owner_id, ctx.meta(cmd.occurred_at))
    return ctx.save(contact_id, events, created=True, claims=[claim])


def change_contact(cmd: ChangeContact, ctx: CommandContext) -> CommandResult:
    contact = ctx.target(Contact, cmd.contact_id)
    # Decided first: a forgotten contact is refused before its (erased) e-mail is looked at.
    events = contacts.change(contact, cmd.changes, cmd.status, cmd.owner_id, cmd.owner_given, ctx.meta(cmd.occurred_at))
    ctx.exists(Company, cmd.changes.get("company_id"), "company_id")
    if cmd.owner_given:
        ctx.exists(Rep, cmd.owner_id, "owner_id")
    claims, releases = [], []
    new_email = cmd.changes.get("email")
    if new_email is not None and email_claim(new_email, contact.id) != email_claim(contact.details.email, contact.id):
        claims.append(_claim_email(ctx, new_email, contact.id))
        releases.append(email_claim(contact.details.email, contact.id))
    return ctx.save(contact.id, events, current_version=contact.version, claims=claims, releases=releases)


def forget_contact(cmd: ForgetContact, ctx: CommandContext) -> CommandResult:
    """Erase first, then record: the key goes (with the e-mail claim) before the event
    is saved, so a crash in between leaves the data erased and a retry finishes it."""
    contact = ctx.target(Contact, cmd.contact_id)
    events = contacts.forget(contact, cmd.reason, ctx.meta())
    if events:
        ctx.erase_personal_data(contact.id)
    return ctx.save(contact.id, events, current_version=contact.version)
