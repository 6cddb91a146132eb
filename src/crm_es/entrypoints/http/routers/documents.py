"""/document-templates, /documents and /contacts/{id}/documents (F25): quotes, contracts and
invoices made from templates, sent by e-mail, paid or voided. Read from the event store;
a document is read by whoever may read its contact."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import duckdb
from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import Field

from crm_es.aggregates.base import NotFound
from crm_es.aggregates.document import Document
from crm_es.aggregates.document_template import NAME as TEMPLATE_NAME
from crm_es.entrypoints.http.auth import Visible, contact_in_reach
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor, ServicesDep
from crm_es.entrypoints.http.answers import DocumentPage, DocumentPublic, DocumentTemplateList, DocumentTemplatePublic
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import Amount, Body, Currency, IsoDate
from crm_es.commands import execute
from crm_es.commands.documents import (
    DefineTemplate, IssueDocument, RecordPayment, SendDocument, VoidDocument, define_template, issue_document,
    record_payment, send_document, void_document,
)
from crm_es.bootstrap import Services
from crm_es.queries import documents as queries
from crm_es.queries.visibility import Visibility

router = APIRouter(tags=["documents"])

Kind = Literal["quote", "contract", "invoice"]
# What a document whose contact was forgotten answers instead of its content (see _issued).
ERASED: dict[str, Any] = {"description": "The contact was forgotten: the content is erased (410 document-erased)"}
TemplateName = Annotated[str, Path(max_length=50, description="lower case letters, digits, - and _",
                                   json_schema_extra={"pattern": f"^{TEMPLATE_NAME.pattern}$"})]  # checked by the template


class TemplateIn(Body):
    kind: Kind
    subject: Annotated[str, Field(min_length=1, max_length=500, description="the e-mail's subject (Jinja2, one line)")]
    body: Annotated[str, Field(min_length=1, max_length=20_000, description="the e-mail's text (Jinja2)")]
    html: Annotated[str, Field(min_length=1, max_length=200_000, description="the document (Jinja2 → HTML → PDF)")]


class LineIn(Body):
    description: Annotated[str, Field(min_length=1, max_length=500)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]
    unit_price: Amount


class DocumentIn(Body):
    kind: Kind
    contact_id: UUID
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    currency: Currency
    template: Annotated[str, Field(min_length=1, max_length=50)] | None = Field(
        default=None, description="by default the kind's own (defined under the kind's name, or built in)")
    deal_id: UUID | None = None
    rep_id: UUID | None = Field(default=None, description="whose signature: by default the caller's (a rep), "
                                                          "else the contact's owner")
    due_on: IsoDate | None = Field(default=None, description="invoices (and only they): on or after today")


class DocumentIssued(CommandAnswer):
    kind: str
    number: str
    template: str
    template_version: int
    contact_id: UUID
    deal_id: UUID | None
    rep_id: UUID | None
    issued_on: date
    due_on: date | None
    total: Decimal
    currency: str
    pdf_sha256: str = Field(description="hex SHA-256 of the PDF's bytes (GET /documents/{id}/pdf)")


class DocumentQueued(CommandAnswer):
    delivery_id: UUID = Field(description="the e-mail's delivery id in the outbox (its Message-ID: <id@crm-es>)")
    document_id: UUID


class PaymentIn(Body):
    amount: Amount
    currency: Currency | None = Field(default=None, description="the invoice's (the default)")
    paid_on: IsoDate | None = Field(default=None, description="today by default")


class VoidIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500, description="free text (sealed with the contact's key)")]


# --- templates ---------------------------------------------------------------------------


@router.put("/document-templates/{name}", response_model=CommandAnswer,
            responses={201: {"model": CommandAnswer, "description": "A template defined under a new name"}})
def put_document_template(name: TemplateName, body: TemplateIn, ctx: Ctx, services: ServicesDep,
                          response: Response) -> dict[str, Any]:
    """Define a template, or revise it (a new version; documents keep naming the one they
    were made from). Refused whole — 422 naming `subject`, `body` or `html` — when a text
    does not parse (with its line), names an unknown variable, or does not lay out as a PDF."""
    command = DefineTemplate(name, body.kind, body.subject, body.body, body.html, services.settings.pdf_font)
    return answer(response, execute(define_template, command, ctx))


@router.get("/document-templates", response_model=DocumentTemplateList)
def get_document_templates(services: ServicesDep) -> dict[str, Any]:
    """The templates defined, then the built-in ones of the kinds none replaces; and the
    variables a template may use."""
    return {"items": queries.list_templates(services.store), "variables": queries.variables()}


@router.get("/document-templates/{name}", response_model=DocumentTemplatePublic)
def get_document_template(name: TemplateName, services: ServicesDep, response: Response,
                          version: Annotated[int | None, Query(ge=0, le=2**31, description="an earlier version")] = None,
                          ) -> dict[str, Any]:
    found = queries.get_template(services.store, name, version)
    if found is None:
        raise NotFound("document template", name)
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


# --- documents -----------------------------------------------------------------------------


@router.post("/documents", status_code=201, response_model=DocumentIssued)
def post_document(body: DocumentIn, ctx: Ctx, services: ServicesDep, response: Response) -> dict[str, Any]:
    """Issue a quote, a contract or an invoice: numbered (Q-2026-0001, CTR-…, INV-…, gapless
    per kind and year), rendered as HTML and PDF, stored (sealed with the contact's key)."""
    lines = tuple((line.description, line.quantity, line.unit_price) for line in body.lines)
    command = IssueDocument(body.kind, body.contact_id, lines, body.currency, body.template, body.deal_id, body.rep_id,
                            body.due_on, services.settings.pdf_font)
    result = execute(issue_document, command, ctx)
    response.headers["Location"] = f"/documents/{result.id}"
    document = queries.get_document(services.store, result.id)
    assert document is not None
    return {**answer(response, result), **queries.issued(document)}


def _readable(services: Services, cur: duckdb.DuckDBPyConnection, visible: Visibility, document_id: UUID) -> Document:
    """The document, if its contact is within the caller's reach (403 if not)."""
    document = queries.get_document(services.store, document_id)
    if document is None:
        raise NotFound("document", document_id)
    contact_in_reach(services.store, cur, visible, document.contact_id)
    return document


def _issued(services: Services, document: Document) -> Document.Issued:
    issued = queries.issued_event(services.store, document.id)
    if issued is None or issued.pdf is None:
        raise ProblemError(410, "document-erased", f"document {document.number}'s contact was forgotten: its content "
                                                   "is erased (its number, amounts and PDF hash remain)")
    return issued


@router.get("/documents/{document_id}", response_model=DocumentPublic)
def get_document(document_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep,
                 response: Response) -> dict[str, Any]:
    """The document's metadata (its lines, status, payments, sendings); not its HTML or PDF."""
    document = _readable(services, cur, visible, document_id)
    response.headers["ETag"] = f'"{document.version}"'
    return queries.metadata(document)


@router.get("/documents/{document_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "the PDF as issued"}, 410: ERASED})
def get_document_pdf(document_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep) -> Response:
    """The PDF as issued (its SHA-256 is the metadata's `pdf_sha256`); 410 once erased."""
    document = _readable(services, cur, visible, document_id)
    issued = _issued(services, document)
    return Response(base64.b64decode(issued.pdf), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{document.number}.pdf"',
                             "ETag": f'"{document.version}"'})


@router.get("/documents/{document_id}/html", response_class=HTMLResponse, responses={410: ERASED})
def get_document_html(document_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep) -> HTMLResponse:
    """The HTML the PDF was made from; 410 once erased. Served sandboxed (no scripts)."""
    document = _readable(services, cur, visible, document_id)
    issued = _issued(services, document)
    return HTMLResponse(issued.html, headers={"Content-Security-Policy": "sandbox", "ETag": f'"{document.version}"'})


@router.get("/contacts/{contact_id}/documents", response_model=DocumentPage)
def get_contact_documents(contact_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep,
                          limit: Limit = 50, cursor: str | None = None) -> Any:
    """The contact's documents, newest first."""
    contact_in_reach(services.store, cur, visible, contact_id)
    return queries.contact_documents(services.store, contact_id, limit=limit, cursor=cursor)


@router.post("/documents/{document_id}/send", status_code=202, response_model=DocumentQueued)
def post_document_send(document_id: UUID, ctx: Ctx, response: Response) -> dict[str, Any]:
    """An e-mail to the contact with the PDF attached, queued in the outbox: 202 with its
    delivery id. When it has gone, the document records it and the contact's timeline shows
    `document_sent`. 409 when the document was voided or the contact's address bounced."""
    result = execute(send_document, SendDocument(document_id), ctx)
    return {**answer(response, result), "delivery_id": str(result.id), "document_id": str(document_id)}


@router.post("/documents/{document_id}/payments", response_model=CommandAnswer)
def post_document_payment(document_id: UUID, body: PaymentIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """A payment towards an invoice; paid in full, the invoice is `paid` (and its reminders
    stop). 409 for a quote or a contract, a voided or paid invoice, or more than is due."""
    return answer(response, execute(record_payment, RecordPayment(document_id, body.amount, body.currency,
                                                                  body.paid_on), ctx))


@router.post("/documents/{document_id}/void", response_model=CommandAnswer)
def post_document_void(document_id: UUID, body: VoidIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Void an invoice (its number stays taken). 409 when it is paid; twice writes nothing."""
    return answer(response, execute(void_document, VoidDocument(document_id, body.reason), ctx))
