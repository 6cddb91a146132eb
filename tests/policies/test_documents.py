"""Documents (F25) below HTTP: the numbering under a race (two issuers at once, on SQLite
and PostgreSQL), rendering made again byte for byte, the PDF's font and its fallback,
what the store seals, a voided invoice's e-mail held back by the outbox, the rep's
signature; and the deciders' rules, given → when → then."""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import orjson
import pytest

from crm_es.aggregates import document as documents
from crm_es.aggregates import message as messages
from crm_es.aggregates.base import InvalidInput, Meta, RuleViolated
from crm_es.aggregates.contact import Contact, ContactDetails
from crm_es.aggregates.document import PAID, VOID, Document, Draft, Files
from crm_es.aggregates.document_register import NumberSeries, series_id
from crm_es.aggregates.document_template import DocumentTemplate, template_id
from crm_es.aggregates.rep import Rep
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.commands import execute
from crm_es.commands.documents import (
    DefineTemplate, IssueDocument, SetSignature, VoidDocument, define_template, fill_values, issue_document,
    render_document, set_signature, void_document,
)
from crm_es.commands.people import AddRep, add_rep
from crm_es.commands.records import RegisterContact, register_contact
from crm_es.documents import render
from crm_es.documents.defaults import DEFAULTS
from crm_es.documents.templates import sample_values
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from crm_es.settings import Settings
from tests.policies.conftest import Inbox

LINES = (("Fleet maintenance", Decimal(2), Decimal("1500.00")),)
SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")


def contact(services: Services, email: str = "zoe@acme.example") -> UUID:
    rep = execute(add_rep, AddRep("Alice Martin", "alice@seller.example"), services.context()).id
    details = ContactDetails("Zoë", "Łukasz", email)
    return execute(register_contact, RegisterContact(details, owner_id=rep), services.context()).id


def invoice(services: Services, contact_id: UUID, **context: object) -> UUID:
    command = IssueDocument("invoice", contact_id, LINES, "EUR", due_on=date(2026, 3, 31))
    return execute(issue_document, command, services.context(**context)).id


# --- the numbering under a race ---------------------------------------------------------------


def test_two_issuers_at_once_one_retries_and_the_numbers_have_no_gap_and_no_duplicate(services: Services) -> None:
    zoe = contact(services)
    both_read = threading.Barrier(2, timeout=10)
    ids_made: list[str] = []

    def new_id_after_the_other_has_read() -> UUID:
        """Called once the series is read: the first time, wait for the other issuer to
        have read it too, so both decide on the same last number."""
        ids_made.append(threading.current_thread().name)
        if ids_made.count(threading.current_thread().name) == 1:
            both_read.wait()
        return uuid4()

    made: dict[str, UUID] = {}

    def issue(name: str) -> None:
        made[name] = invoice(services, zoe, new_id=new_id_after_the_other_has_read)

    threads = [threading.Thread(target=issue, args=(name,), name=name) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert set(made) == {"a", "b"}
    assert len(ids_made) == 3, "one of the two lost the race and decided again"
    numbers = sorted(services.store.load(Document, i).number for i in made.values())
    assert numbers == ["INV-2026-0001", "INV-2026-0002"]
    series = services.store.load(NumberSeries, series_id("invoice", 2026))
    assert (series.version, series.last) == (2, 2)
    assert [e.number for e in services.store.events(series.id)] == ["INV-2026-0001", "INV-2026-0002"]


# --- rendering ----------------------------------------------------------------------------------


def test_a_stored_document_is_made_again_byte_for_byte(services: Services) -> None:
    zoe = contact(services)
    document = services.store.load(Document, invoice(services, zoe))
    [issued] = services.store.events(document.id, lte=1)
    stored_pdf = base64.b64decode(issued.pdf)
    assert hashlib.sha256(stored_pdf).hexdigest() == document.pdf_sha256

    ctx = services.context()
    draft = Draft(document.kind, document.lines, document.total, document.currency, document.issued_on, document.due_on)
    values = fill_values(ctx, services.store.load(Contact, zoe), None, services.store.load(Rep, document.rep_id), draft,
                         document.number)
    again = render_document(DEFAULTS["invoice"], values, document.issued_at, None)
    assert again.pdf == stored_pdf and again.html == issued.html
    assert (again.subject, again.body) == (issued.subject, issued.body)


def test_the_pdf_uses_a_unicode_font_or_the_one_the_setting_names() -> None:
    values, at = sample_values("invoice"), datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    made = render.render(DEFAULTS["invoice"], values, at)
    assert b"+DejaVuSansBook" in made.pdf and b"+DejaVuSansBold" in made.pdf  # <b> and <h1> from the bold's own file
    assert render.render(DEFAULTS["invoice"], values, at).pdf == made.pdf  # the same inputs, the same bytes
    later = render.render(DEFAULTS["invoice"], values, at + timedelta(seconds=1)).pdf
    assert later != made.pdf and b"D:20260301090001Z" in later  # the creation date is the issue time

    settings = Settings.from_env({"CRM_ES_PDF_FONT": str(SERIF), "CRM_ES_DATA_DIR": "/tmp"})
    assert settings.pdf_font == SERIF
    serif = render.render(DEFAULTS["invoice"], values, at, settings.pdf_font).pdf
    assert b"+DejaVuSerifBook" in serif and b"+DejaVuSerifItalic" in serif and b"DejaVuSans" not in serif


def test_without_a_unicode_font_the_core_font_replaces_what_latin_1_lacks_and_says_so_once(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(render, "DEJAVU", Path("/nonexistent/DejaVuSans.ttf"))
    monkeypatch.setattr(render, "_said", set())
    caplog.set_level(logging.WARNING, logger="crm_es.documents")
    values, at = sample_values("invoice"), datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
    values["contact"]["name"] = "Zoë Łukasz"  # ë is Latin-1, Ł is not
    made = render.render(DEFAULTS["invoice"], values, at, Path("/nonexistent/Custom.ttf"))
    render.render(DEFAULTS["invoice"], values, at)
    assert made.pdf.startswith(b"%PDF-") and b"Helvetica" in made.pdf and b"DejaVu" not in made.pdf
    assert "Zoë Łukasz" in made.html  # the HTML keeps every character: only the PDF's core font lacks them
    said = [r.getMessage() for r in caplog.records]
    assert len([m for m in said if "outside Latin-1" in m]) == 1
    assert len([m for m in said if "CRM_ES_PDF_FONT names /nonexistent/Custom.ttf" in m]) == 1


def test_the_template_and_its_version_a_document_was_made_from_stay_readable(services: Services) -> None:
    zoe = contact(services)
    html = "<p>{{ document.number }} for {{ contact.first_name }}</p>"
    execute(define_template, DefineTemplate("invoice", "invoice", "Invoice {{ document.number }}", "Hi", html),
            services.context())
    first = services.store.load(Document, invoice(services, zoe))
    execute(define_template, DefineTemplate("invoice", "invoice", "Invoice {{ document.number }}", "Hi", f"{html}<p>v2</p>"),
            services.context())
    second = services.store.load(Document, invoice(services, zoe))
    assert [(d.template, d.template_version) for d in (first, second)] == [("invoice", 1), ("invoice", 2)]
    assert services.store.load(DocumentTemplate, template_id("invoice"), version=1).html == html


# --- what the store keeps -------------------------------------------------------------------------


def test_what_quotes_the_person_is_sealed_with_their_key_and_the_figures_stay_in_clear(services: Services) -> None:
    assert Document.Issued.subject_field == Document.Voided.subject_field == "contact_id"
    assert set(Document.Issued.personal_fields) == {"lines", "html", "pdf", "subject", "body"}
    assert Document.Voided.personal_fields == ("reason",)
    assert Document.PaymentRecorded.personal_fields == Document.Sent.personal_fields == ()
    zoe = contact(services)
    document = services.store.load(Document, invoice(services, zoe))
    execute(void_document, VoidDocument(document.id, "Zoë asked for another address"), services.context())
    rows = [r for r in services.store.read(0, 1000) if r.originator_id == str(document.id)]
    issued, voided = (orjson.loads(r.state) for r in rows)
    for name in ("lines", "html", "pdf", "subject", "body"):
        assert set(issued[name]) == {"$sealed"}, name
    assert set(voided["reason"]) == {"$sealed"}
    assert (issued["number"], issued["total"], issued["pdf_sha256"]) == ("INV-2026-0001", "3000.00", document.pdf_sha256)
    assert issued["contact_id"] == str(zoe)


def test_a_voided_invoice_is_not_sent_its_queued_email_is_cancelled(services: Services, clock: FrozenClock,
                                                                    smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    zoe = contact(services)
    document_id = invoice(services, zoe)
    message_id = uuid4()
    meta = Meta(clock.now(), clock.now(), "rep:someone", "req-1")
    events, row = messages.queue(message_id, "email", "zoe@acme.example", "Your invoice", "documents", meta,
                                 contact_id=zoe, subject="Invoice", attachments=(document_id,))
    services.store.save(events, outbox=[row])
    execute(void_document, VoidDocument(document_id, "issued twice"), services.context())

    assert Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}", "b@x.example")}).run_once() == 0
    assert inbox.mails == []
    message = services.store.load(messages.Message, message_id)
    assert (message.status, message.last_error) == ("cancelled", "the attached document INV-2026-0001 was voided")
    assert services.store.load(Document, document_id).sent == ()


def test_a_reps_signature_is_set_by_an_event_and_the_same_again_records_nothing(services: Services) -> None:
    rep = execute(add_rep, AddRep("Alice Martin", "alice@seller.example"), services.context()).id
    first = execute(set_signature, SetSignature(rep, "  Alice Martin\nAccount manager  "), services.context())
    again = execute(set_signature, SetSignature(rep, "Alice Martin\nAccount manager"), services.context())
    assert (first.version, again.version) == (2, 2)
    assert services.store.load(Rep, rep).signature == "Alice Martin\nAccount manager"
    assert [type(e).__name__ for e in services.store.events(rep)] == ["Added", "SignatureSet"]
    with pytest.raises(InvalidInput) as refused:
        execute(set_signature, SetSignature(rep, "   "), services.context())
    assert refused.value.field == "signature"


# --- the deciders (pure) ----------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 9, tzinfo=timezone.utc)
META = Meta(NOW, NOW, "rep:alice", "req-1")


def issued(kind: str = "invoice", total: str = "100.00") -> Document:
    draft = documents.draft(kind, [("Service", Decimal(1), Decimal(total))], "EUR", date(2026, 3, 1),
                            date(2026, 3, 31) if kind == "invoice" else None)
    files = Files("<p>x</p>", b"%PDF-1.4 x", "Invoice", "Hello")
    return Document.fold(documents.issue(uuid4(), draft, "INV-2026-0001", "invoice", 0, uuid4(), None, None, files, META))


def test_lines_are_priced_to_the_cent_or_to_their_own_decimals() -> None:
    draft = documents.draft("quote", [("Hours", Decimal("1.5"), Decimal("19.99")), ("Screws", Decimal(3),
                                      Decimal("0.0125"))], "EUR", date(2026, 3, 1), None)
    assert [line.amount for line in draft.lines] == [Decimal("29.99"), Decimal("0.0375")]
    assert draft.total == Decimal("30.0275")


@pytest.mark.parametrize(("kind", "lines", "due_on", "field"), [
    ("invoice", [("x", Decimal(1), Decimal(1))], None, "due_on"),
    ("quote", [("x", Decimal(1), Decimal(1))], date(2026, 3, 31), "due_on"),
    ("invoice", [("x", Decimal(1), Decimal(1))], date(2026, 2, 28), "due_on"),
    ("invoice", [], date(2026, 3, 31), "lines"),
    ("invoice", [("  ", Decimal(1), Decimal(1))], date(2026, 3, 31), "lines[0].description"),
    ("invoice", [("x", Decimal(0), Decimal(1))], date(2026, 3, 31), "lines[0].quantity"),
    ("invoice", [("x", Decimal(10) ** 9, Decimal(10) ** 9)], date(2026, 3, 31), "lines"),
    ("receipt", [("x", Decimal(1), Decimal(1))], None, "kind"),
])
def test_a_draft_that_breaks_a_rule_is_refused_naming_the_field(kind, lines, due_on, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        documents.draft(kind, lines, "EUR", date(2026, 3, 1), due_on)
    assert refused.value.field == field


def test_payments_settle_an_invoice_and_no_more_than_is_due_is_taken() -> None:
    invoice = issued()
    part = Document.fold([*_issued_events(invoice), *documents.record_payment(invoice, Decimal(40), "EUR", date(2026, 3, 1), META)])
    assert (part.paid, part.balance, part.status) == (Decimal(40), Decimal("60.00"), "issued")
    with pytest.raises(RuleViolated, match="60.00 EUR left to pay") as over:
        documents.record_payment(part, Decimal("60.01"), "EUR", date(2026, 3, 1), META)
    assert over.value.rule == "overpayment"
    [settled] = documents.record_payment(part, Decimal(60), "EUR", date(2026, 3, 1), META)
    paid = Document.evolve(part, settled)
    assert paid.status == PAID
    for decide, rule in ((lambda d: documents.record_payment(d, Decimal(1), "EUR", date(2026, 3, 1), META), "invoice-paid"),
                         (lambda d: documents.void(d, "late", META), "invoice-paid")):
        with pytest.raises(RuleViolated) as refused:
            decide(paid)
        assert refused.value.rule == rule
    with pytest.raises(InvalidInput) as future:
        documents.record_payment(part, Decimal(1), "EUR", date(2026, 3, 2), META)
    assert future.value.field == "paid_on"


def test_a_voided_invoice_is_neither_paid_nor_sent_and_voiding_twice_records_nothing() -> None:
    invoice = issued()
    [voided_event] = documents.void(invoice, "wrong customer", META)
    voided = Document.evolve(invoice, voided_event)
    assert voided.status == VOID and documents.void(voided, "again", META) == []
    for decide in (lambda: documents.record_payment(voided, Decimal(1), "EUR", date(2026, 3, 1), META),
                   lambda: documents.check_sendable(voided)):
        with pytest.raises(RuleViolated) as refused:
            decide()
        assert refused.value.rule == "document-void"
    quote = issued("quote")
    with pytest.raises(RuleViolated) as not_invoice:
        documents.void(quote, "x", META)
    assert not_invoice.value.rule == "not-an-invoice"


def _issued_events(document: Document) -> list:
    draft = Draft(document.kind, document.lines, document.total, document.currency, document.issued_on, document.due_on)
    return documents.issue(document.id, draft, document.number, document.template, document.template_version,
                           document.contact_id, None, None, Files("<p>x</p>", b"%PDF-1.4 x", "Invoice", "Hello"), META)
