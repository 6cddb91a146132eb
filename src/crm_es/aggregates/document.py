"""A document (F25): a quote, a contract or an invoice issued to a contact, made from a
template (crm_es.documents renders it), numbered gaplessly per kind and year
(aggregates/document_register.py), sent by e-mail through the outbox. An invoice is
then paid (in one payment or several) or voided.

What the document says of the person — its lines, its HTML, its PDF, the e-mail that
carries it — is sealed with the contact's key: forgetting the contact shreds the stored
document. Its number, amounts, dates and the PDF's SHA-256 stay in clear: the books
keep their figures, and an auditor can check a copy of the PDF against the hash.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, InvalidInput, Meta, RuleViolated, new_event
from crm_es.aggregates.document_template import INVOICE, KINDS
from crm_es.aggregates.money import amount_problem

ISSUED, PAID, VOID = "issued", "paid", "void"
MAX_LINES = 100


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # quantity × unit price, to the cent (or to the unit price's own decimals)


@dataclass(frozen=True)
class Draft:
    """What a document will say, checked and priced, before it has a number."""

    kind: str
    lines: tuple[Line, ...]
    total: Decimal
    currency: str
    issued_on: date
    due_on: date | None


@dataclass(frozen=True)
class Files:
    """The document as rendered: its HTML and PDF, and the e-mail that carries it."""

    html: str
    pdf: bytes
    subject: str
    body: str


@dataclass(frozen=True)
class Sending:
    message_id: UUID
    sent_at: datetime


@dataclass(frozen=True)
class Document(Aggregate):
    kind: str
    number: str
    template: str
    template_version: int  # 0: the built-in default of its kind
    contact_id: UUID
    deal_id: UUID | None
    rep_id: UUID | None
    issued_on: date
    due_on: date | None
    lines: tuple[Line, ...] | None  # None once the contact is forgotten
    total: Decimal
    currency: str
    pdf_sha256: str
    issued_at: datetime
    status: str = ISSUED
    paid: Decimal = Decimal(0)
    sent: tuple[Sending, ...] = ()

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid

    class Issued(Event):
        personal_fields = ("lines", "html", "pdf", "subject", "body")
        subject_field = "contact_id"

        kind: str
        number: str
        template: str
        template_version: int
        contact_id: UUID
        deal_id: UUID | None
        rep_id: UUID | None
        issued_on: date
        due_on: date | None
        lines: tuple[Line, ...]
        total: Decimal
        currency: str
        html: str
        pdf: str  # base64
        pdf_sha256: str  # hex, of the PDF's bytes: in clear, for an auditor's copy
        subject: str  # the e-mail that carries it
        body: str

    class PaymentRecorded(Event):
        amount: Decimal
        currency: str
        paid_on: date
        paid_total: Decimal  # paid so far, this payment included

    class Voided(Event):
        # Free text: it may well quote the person. Sealed with their key.
        personal_fields = ("reason",)
        subject_field = "contact_id"

        contact_id: UUID
        reason: str

    class Sent(Event):
        """The e-mail carrying the document has gone out (recorded by the outbox)."""

        message_id: UUID
        sent_at: datetime

    @classmethod
    def evolve(cls, state: Document | None, event: Event) -> Document:
        if isinstance(event, Document.Issued):
            lines = None if event.lines is None else tuple(_line(line) for line in event.lines)
            return Document(event.originator_id, event.originator_version, event.kind, event.number, event.template,
                            event.template_version, event.contact_id, event.deal_id, event.rep_id, event.issued_on,
                            event.due_on, lines, event.total, event.currency, event.pdf_sha256, event.timestamp)
        assert state is not None
        state = state.moved_on(version=event.originator_version)
        match event:
            case Document.PaymentRecorded():
                return state.moved_on(paid=event.paid_total, status=PAID if event.paid_total >= state.total else ISSUED)
            case Document.Voided():
                return state.moved_on(status=VOID)
            case Document.Sent():
                return state.moved_on(sent=(*state.sent, Sending(event.message_id, event.sent_at)))
        raise TypeError(f"Document cannot apply {type(event).__qualname__}")


def _line(line: Line | dict[str, Any]) -> Line:
    return line if isinstance(line, Line) else Line(**line)


def _priced(quantity: Decimal, unit_price: Decimal) -> Decimal:
    places = min(unit_price.as_tuple().exponent, -2)  # type: ignore[type-var]  # finite: checked by the caller
    return (quantity * unit_price).quantize(Decimal(1).scaleb(places), ROUND_HALF_UP)


def draft(kind: str, lines: Iterable[tuple[str, Decimal, Decimal]], currency: str, issued_on: date,
          due_on: date | None) -> Draft:
    """Check what a new document will say and price its lines. Only an invoice has a
    due date, and it has one, on or after its issue date."""
    if kind not in KINDS:
        raise InvalidInput("kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    priced = []
    for i, (description, quantity, unit_price) in enumerate(lines):
        if not description.strip():
            raise InvalidInput(f"lines[{i}].description", "a line says what it is for")
        if not quantity.is_finite() or quantity <= 0:
            raise InvalidInput(f"lines[{i}].quantity", "a quantity is above zero")
        if (problem := amount_problem(unit_price)) is not None:
            raise InvalidInput(f"lines[{i}].unit_price", problem)
        priced.append(Line(description.strip(), quantity, unit_price, _priced(quantity, unit_price)))
    if not priced:
        raise InvalidInput("lines", "a document has at least one line")
    if len(priced) > MAX_LINES:
        raise InvalidInput("lines", f"a document has at most {MAX_LINES} lines")
    total = sum((line.amount for line in priced), Decimal(0))
    if (problem := amount_problem(total)) is not None:
        raise InvalidInput("lines", f"the total: {problem}")
    if kind == INVOICE and due_on is None:
        raise InvalidInput("due_on", "an invoice has a due date")
    if kind != INVOICE and due_on is not None:
        raise InvalidInput("due_on", f"only an invoice has a due date, not a {kind}")
    if due_on is not None and due_on < issued_on:
        raise InvalidInput("due_on", f"the due date is before the issue date ({issued_on.isoformat()})")
    return Draft(kind, tuple(priced), total, currency, issued_on, due_on)


def issue(document_id: UUID, draft: Draft, number: str, template: str, template_version: int, contact_id: UUID,
          deal_id: UUID | None, rep_id: UUID | None, files: Files, meta: Meta) -> list[Event]:
    return [new_event(
        Document.Issued, document_id, 1, meta, kind=draft.kind, number=number, template=template,
        template_version=template_version, contact_id=contact_id, deal_id=deal_id, rep_id=rep_id,
        issued_on=draft.issued_on, due_on=draft.due_on, lines=draft.lines, total=draft.total, currency=draft.currency,
        html=files.html, pdf=base64.b64encode(files.pdf).decode(), pdf_sha256=hashlib.sha256(files.pdf).hexdigest(),
        subject=files.subject, body=files.body,
    )]


def _require_invoice(document: Document, action: str) -> None:
    if document.kind != INVOICE:
        raise RuleViolated("not-an-invoice", f"{document.number} is a {document.kind}: only an invoice is {action}")


def _require_not_void(document: Document, action: str) -> None:
    if document.status == VOID:
        raise RuleViolated("document-void", f"{document.number} was voided: it cannot be {action}")


def record_payment(document: Document, amount: Decimal, currency: str, paid_on: date, meta: Meta) -> list[Event]:
    """A payment towards an invoice: paid in full, it is ``paid``. Not more than is due."""
    _require_invoice(document, "paid")
    _require_not_void(document, "paid")
    if document.status == PAID:
        raise RuleViolated("invoice-paid", f"{document.number} is paid already")
    if amount <= 0:
        raise InvalidInput("amount", "a payment is an amount above zero")
    if currency != document.currency:
        raise InvalidInput("currency", f"{document.number} is in {document.currency}: a payment towards it too")
    if amount > document.balance:
        raise RuleViolated("overpayment", f"{document.number} has {document.balance} {document.currency} left to pay",
                           field="amount", balance=str(document.balance))
    if paid_on > meta.recorded_at.date():
        raise InvalidInput("paid_on", "paid_on is in the future: a payment is recorded once it is made")
    return [document.then(Document.PaymentRecorded, meta, amount=amount, currency=currency, paid_on=paid_on,
                          paid_total=document.paid + amount)]


def void(document: Document, reason: str, meta: Meta) -> list[Event]:
    """Cancel an invoice (its number stays used: the series keeps no gap). A paid one cannot
    be; voiding twice records nothing."""
    _require_invoice(document, "voided")
    if document.status == VOID:
        return []
    if document.status == PAID:
        raise RuleViolated("invoice-paid", f"{document.number} is paid: it cannot be voided")
    if not reason.strip():
        raise InvalidInput("reason", "say why the invoice is voided")
    return [document.then(Document.Voided, meta, contact_id=document.contact_id, reason=reason.strip())]


def check_sendable(document: Document) -> None:
    _require_not_void(document, "sent")


def record_sent(document: Document, message_id: UUID, meta: Meta) -> list[Event]:
    return [document.then(Document.Sent, meta, message_id=message_id, sent_at=meta.recorded_at)]
