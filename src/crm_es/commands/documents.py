"""Documents (F25): templates, issuing, sending by e-mail, an invoice's payments and its
voiding; and the rep's signature the documents carry.

Whoever may change a contact may issue its documents and act on them (the contact's owner
decides, as for the contact itself). Issuing renders the document (Jinja2, then fpdf2)
between reading the registers and saving: the number, the document and the contact's
file are saved together, so a lost race on the number is decided again (``execute``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from crm_es.aggregates import Company, Contact, Deal, Pipeline, Rep
from crm_es.aggregates import document as documents
from crm_es.aggregates import document_register as register
from crm_es.aggregates import document_template as document_templates
from crm_es.aggregates import message as messages
from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Event, InvalidInput, NotFound, RuleViolated
from crm_es.aggregates.contact import forgotten_refusal
from crm_es.aggregates.document import Document, Draft, Files
from crm_es.aggregates.document_register import ContactFile, NumberSeries, file_id, series_id
from crm_es.aggregates.document_template import NAMES_ID, DocumentTemplate, TemplateNames, template_id
from crm_es.aggregates.message import EMAIL
from crm_es.channels import check_configured
from crm_es.commands.context import CommandContext, CommandResult, NotYours
from crm_es.documents import render as renderer
from crm_es.documents.defaults import current_template
from crm_es.documents.templates import FIELDS, Template, check, sample_values, values

SENDER = "documents"  # the outbox's `policy` column for the documents people send
ACCEPTED = 202  # a send is queued: the outbox delivers it


@dataclass(frozen=True)
class DefineTemplate:
    name: str
    kind: str
    subject: str
    body: str
    html: str
    pdf_font: Path | None = None  # the setting CRM_ES_PDF_FONT: the HTML is tried as a PDF


@dataclass(frozen=True)
class IssueDocument:
    kind: str
    contact_id: UUID
    lines: tuple[tuple[str, Decimal, Decimal], ...]  # description, quantity, unit price
    currency: str
    template: str | None = None  # by default the kind's: defined under its name, or built in
    deal_id: UUID | None = None
    rep_id: UUID | None = None  # whose signature; by default the caller (a rep), else the contact's owner
    due_on: date | None = None  # invoices
    pdf_font: Path | None = None


@dataclass(frozen=True)
class SendDocument:
    document_id: UUID


@dataclass(frozen=True)
class RecordPayment:
    document_id: UUID
    amount: Decimal
    currency: str | None = None  # the invoice's
    paid_on: date | None = None  # today


@dataclass(frozen=True)
class VoidDocument:
    document_id: UUID
    reason: str


@dataclass(frozen=True)
class SetSignature:
    rep_id: UUID
    signature: str


# --- templates -------------------------------------------------------------------------


def define_template(cmd: DefineTemplate, ctx: CommandContext) -> CommandResult:
    """Checked whole before anything is written: each text parses and names only documented
    variables, and the template fills and lays out as a PDF with sample values."""
    document_templates.check_definition(cmd.name, cmd.kind)
    for field in FIELDS:
        check(field, getattr(cmd, field))
    trial = Template(cmd.name, 0, cmd.kind, cmd.subject, cmd.body, cmd.html)
    renderer.render(trial, sample_values(cmd.kind), ctx.clock.now(), cmd.pdf_font)
    state, names = ctx.store.load_many([(DocumentTemplate, template_id(cmd.name)), (TemplateNames, NAMES_ID)])
    if state is not None:
        ctx.check_version(state)
    meta = ctx.meta()
    events = document_templates.define(state, cmd.name, cmd.kind, cmd.subject, cmd.body, cmd.html, meta)
    if state is None:
        events += document_templates.name(names, cmd.name, meta)
    return ctx.save(template_id(cmd.name), events, current_version=state.version if state else 0,
                    created=state is None)


# --- issuing ---------------------------------------------------------------------------


def issue_document(cmd: IssueDocument, ctx: CommandContext) -> CommandResult:
    # Who may change the contact (and the deal) issues documents about them.
    contact = ctx.referenced(Contact, cmd.contact_id, "contact_id", changed=True)
    if contact.forgotten:
        raise forgotten_refusal(contact.id)
    deal = ctx.referenced(Deal, cmd.deal_id, "deal_id", changed=True) if cmd.deal_id is not None else None
    if cmd.rep_id is not None and not ctx.ownership.may_write_for(cmd.rep_id):
        raise NotYours(f"rep {cmd.rep_id} is not someone this key may sign for", field="rep_id")
    rep_id = cmd.rep_id or ctx.default_owner or contact.owner_id
    rep = ctx.load(Rep, rep_id, "rep_id") if rep_id is not None else None
    template = _template(ctx, cmd.template or cmd.kind, cmd.kind)
    meta = ctx.meta()
    # The contact's owner signs by default: once deactivated, the caller names who signs.
    reps.check_assignable(rep, meta.occurred_at, "rep_id")
    draft = documents.draft(cmd.kind, cmd.lines, cmd.currency, meta.occurred_at.astimezone(timezone.utc).date(),
                            cmd.due_on)
    year = draft.issued_on.year
    series, file = ctx.store.load_many([(NumberSeries, series_id(draft.kind, year)), (ContactFile, file_id(contact.id))])
    number = register.next_number(series, draft.kind, year)
    document_id = ctx.new_id()
    files = render_document(template, fill_values(ctx, contact, deal, rep, draft, number), meta.recorded_at, cmd.pdf_font)
    events: list[Event] = [
        *register.take_number(series, draft.kind, year, document_id, meta),
        *documents.issue(document_id, draft, number, template.name, template.version, contact.id,
                         deal.id if deal else None, rep.id if rep else None, files, meta),
        *register.file_document(file, contact.id, document_id, draft.kind, number, meta),
    ]
    return ctx.save(document_id, events, created=True)


def _template(ctx: CommandContext, name: str, kind: str) -> Template:
    template = current_template(ctx.store.load(DocumentTemplate, template_id(name)), name)
    if template is None:
        raise NotFound("document template", name, "template")
    if template.kind != kind:
        raise InvalidInput("template", f"template {name!r} makes a {template.kind}, not a {kind}")
    return template


def fill_values(ctx: CommandContext, contact: Contact, deal: Deal | None, rep: Rep | None, draft: Draft,
                number: str) -> dict[str, Any]:
    """What the template is filled with: the customer card (and its company), the rep, the
    deal (and its stage's name), the document."""
    company = ctx.store.load(Company, contact.details.company_id) if contact.details.company_id else None
    stage = None
    if deal is not None:
        pipeline = ctx.store.load(Pipeline, deal.pipeline_id)
        found = pipeline.stage(deal.stage_id) if pipeline is not None else None
        stage = found.name if found is not None else None
    return values(contact, company, rep, deal, stage, draft, number)


def render_document(template: Template, filled: dict[str, Any], issued_at: datetime, font: Path | None) -> Files:
    """The template's failure to fill or lay out is the request's: a 422 naming ``template``."""
    try:
        return renderer.render(template, filled, issued_at, font)
    except InvalidInput as error:
        raise InvalidInput("template", f"template {template.name!r} (version {template.version}): {error.detail}") from None


# --- what is done with a document ------------------------------------------------------


def send_document(cmd: SendDocument, ctx: CommandContext) -> CommandResult:
    """An e-mail to the contact with the PDF attached, queued in the outbox (202): the
    answer names the message, whose id is the delivery id. Refused (409
    channel-not-configured) when this service has no SMTP server to send it with."""
    document, contact = _target(ctx, cmd.document_id)
    documents.check_sendable(document)
    if contact.forgotten:
        raise forgotten_refusal(contact.id)
    if contact.email_invalid:
        raise RuleViolated("email-invalid", f"contact {contact.id}'s e-mail address bounced: give them a working one first",
                           field="email")
    check_configured(ctx.channels, EMAIL)  # a document goes by e-mail: refused now rather than failed later
    [issued] = ctx.store.events(document.id, lte=1)
    message_id = ctx.new_id()
    events, row = messages.queue(message_id, EMAIL, contact.details.email or "", issued.body, SENDER, ctx.meta(),
                                 contact_id=contact.id, subject=issued.subject, attachments=(document.id,))
    return ctx.save(message_id, events, outbox=[row], status=ACCEPTED)


def record_payment(cmd: RecordPayment, ctx: CommandContext) -> CommandResult:
    document, _ = _target(ctx, cmd.document_id)
    meta = ctx.meta()
    paid_on = cmd.paid_on or meta.occurred_at.astimezone(timezone.utc).date()
    events = documents.record_payment(document, cmd.amount, cmd.currency or document.currency, paid_on, meta)
    return ctx.save(document.id, events, current_version=document.version)


def void_document(cmd: VoidDocument, ctx: CommandContext) -> CommandResult:
    document, _ = _target(ctx, cmd.document_id)
    return ctx.save(document.id, documents.void(document, cmd.reason, ctx.meta()), current_version=document.version)



def _target(ctx: CommandContext, document_id: UUID) -> tuple[Document, Contact]:
    """The document acted on: 404 if absent, 403 if its contact is not the caller's to
    change, 412 if If-Match is stale."""
    document = ctx.load(Document, document_id)
    contact = ctx.load(Contact, document.contact_id)
    ctx.check_reach(contact)
    return ctx.check_version(document), contact


# --- the rep's signature -----------------------------------------------------------------


def set_signature(cmd: SetSignature, ctx: CommandContext) -> CommandResult:
    """A rep sets their own; a manager their team's; admins anyone's."""
    rep = ctx.load(Rep, cmd.rep_id)
    if not ctx.ownership.may_write_for(rep.id):
        raise NotYours(f"rep {rep.id} is not someone this key may sign for")
    ctx.check_version(rep)
    return ctx.save(rep.id, reps.set_signature(rep, cmd.signature, ctx.meta()), current_version=rep.version)

