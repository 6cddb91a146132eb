"""Documents (F25), read from the event store itself: a document is one record's stream
and a contact's documents one small record's (aggregates/document_register.py), so the
store answers exactly, at once after a write, with the personal fields opened by the
contact's key — null (the lines, the HTML, the PDF) once the contact is forgotten.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm_es.aggregates.document import Document
from crm_es.aggregates.document_register import ContactFile, file_id
from crm_es.aggregates.document_template import KINDS, NAMES_ID, DocumentTemplate, TemplateNames, template_id
from crm_es.documents.defaults import DEFAULTS, current_template
from crm_es.documents.templates import LINE, VARIABLES, Template
from crm_es.queries.sql import BadCursor, Page, jsonable
from crm_es.queries.timeline import decode_cursor, encode_cursor
from crm_es.store import EventStore

# What never changes once issued: a command's answer, the same on a retry.
ISSUED_FIELDS = ("kind", "number", "template", "template_version", "contact_id", "deal_id", "rep_id", "issued_on",
                 "due_on", "total", "currency", "pdf_sha256")


def issued(document: Document) -> dict[str, Any]:
    return {name: jsonable(getattr(document, name)) for name in ISSUED_FIELDS}


def metadata(document: Document) -> dict[str, Any]:
    """Everything but the HTML and the PDF (their own routes)."""
    lines = None if document.lines is None else [
        {"description": line.description, "quantity": str(line.quantity), "unit_price": str(line.unit_price),
         "amount": str(line.amount)} for line in document.lines]
    return {
        "id": str(document.id), "version": document.version, **issued(document), "status": document.status,
        "issued_at": document.issued_at.isoformat(), "lines": lines, "paid": str(document.paid),
        "balance": str(document.balance),
        "sent": [{"message_id": str(s.message_id), "sent_at": s.sent_at.isoformat()} for s in document.sent],
    }


def get_document(store: EventStore, document_id: UUID) -> Document | None:
    document = store.load(Document, document_id)
    return None if document is None else _as_known_now(store, [document])[0]


def _as_known_now(store: EventStore, found: list[Document]) -> list[Document]:
    """The documents with their lines erased where the contact has been forgotten: a state
    the store remembers from before still holds them in clear (the key table says)."""
    held = [d for d in found if d.lines is not None]
    keys = store.keys.for_reading({str(d.contact_id) for d in held}) if held else {}
    return [d if d.lines is None or str(d.contact_id) in keys else d.moved_on(lines=None) for d in found]


def issued_event(store: EventStore, document_id: UUID) -> Document.Issued | None:
    """The document as issued: its HTML and PDF (None once its contact is forgotten)."""
    events = store.events(document_id, lte=1)
    return events[0] if events and isinstance(events[0], Document.Issued) else None


def contact_documents(store: EventStore, contact_id: UUID, *, limit: int = 50, cursor: str | None = None) -> Page:
    """The contact's documents, newest first."""
    file = store.load(ContactFile, file_id(contact_id))
    newest_first = list(reversed(file.documents)) if file is not None else []
    start = decode_cursor("d", cursor) if cursor else 0
    if start < 0:
        raise BadCursor("cursor is not one this service gave out")
    ids = newest_first[start:start + limit]
    found = _as_known_now(store, [d for d in store.load_many([(Document, i) for i in ids]) if d is not None])
    items = [metadata(document) for document in found]
    more = start + limit < len(newest_first)
    return Page(items, encode_cursor("d", start + limit) if more else None)


# --- templates ---------------------------------------------------------------------------


def _template(template: Template) -> dict[str, Any]:
    return {"name": template.name, "kind": template.kind, "version": template.version,
            "built_in": template.version == 0, "subject": template.subject, "body": template.body, "html": template.html}


def variables() -> dict[str, list[str]]:
    """What a template may say: each object and its attributes (``document.lines[]``: a line's)."""
    return {**{name: list(attributes) for name, attributes in VARIABLES.items()}, "document.lines[]": list(LINE)}


def list_templates(store: EventStore) -> list[dict[str, Any]]:
    """The templates defined (in the order first defined), then the built-in defaults of
    the kinds no template replaces."""
    names = store.load(TemplateNames, NAMES_ID)
    defined = store.load_many([(DocumentTemplate, template_id(n)) for n in names.names]) if names else []
    items = [_template(t) for state in defined if state is not None if (t := current_template(state, state.name))]
    replaced = {item["name"] for item in items}
    return items + [_template(DEFAULTS[kind]) for kind in KINDS if kind not in replaced]


def get_template(store: EventStore, name: str, version: int | None = None) -> dict[str, Any] | None:
    """The template under this name — as of ``version`` (0: the built-in default its kind's
    name stands for) — or None."""
    if version == 0:
        return _template(DEFAULTS[name]) if name in DEFAULTS else None
    state = store.load(DocumentTemplate, template_id(name), version=version)
    if version is not None and (state is None or state.version != version):
        return None
    template = current_template(state, name)
    return None if template is None else _template(template)
