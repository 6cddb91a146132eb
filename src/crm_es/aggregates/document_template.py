"""A document template (F25): under one name, the kind of document it makes (a quote, a
contract, an invoice), the e-mail that carries the document (subject and body, text) and
the document itself (HTML). All three are Jinja2 text.

Defined, then revised, by events: each revision is the record's next version, and an
issued document names the template and the version it was made from. Checking the
Jinja2 (syntax, variables) needs the template engine: the command does it
(crm_es.documents.templates). Until an admin defines one, each kind has a built-in
template named after it (``invoice`` …) at version 0 (crm_es.documents.defaults); a
template defined under that name replaces it. The names defined are kept on one small
record (``TemplateNames``), saved with each first definition: what GET
/document-templates lists, from the event store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, InvalidInput, Meta, new_event

QUOTE, CONTRACT, INVOICE = "quote", "contract", "invoice"
KINDS = (QUOTE, CONTRACT, INVOICE)
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")


NAMES_ID = uuid5(NAMESPACE_URL, "urn:crm-es:document-template-names")


def template_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:document-template:{name}")


@dataclass(frozen=True)
class DocumentTemplate(Aggregate):
    name: str
    kind: str
    subject: str
    body: str
    html: str

    class Defined(Event):
        """The template's first version. Its texts are the seller's, not a person's: in clear."""

        name: str
        kind: str
        subject: str
        body: str
        html: str

    class Revised(Event):
        """A new version, whole: documents issued before keep naming the one they used."""

        kind: str
        subject: str
        body: str
        html: str

    @classmethod
    def evolve(cls, state: DocumentTemplate | None, event: Event) -> DocumentTemplate:
        match event:
            case DocumentTemplate.Defined():
                return DocumentTemplate(event.originator_id, event.originator_version, event.name, event.kind,
                                        event.subject, event.body, event.html)
            case DocumentTemplate.Revised():
                assert state is not None
                return state.moved_on(version=event.originator_version, kind=event.kind, subject=event.subject,
                                      body=event.body, html=event.html)
        raise TypeError(f"DocumentTemplate cannot apply {type(event).__qualname__}")


@dataclass(frozen=True)
class TemplateNames(Aggregate):
    names: tuple[str, ...]  # in the order they were first defined

    class Named(Event):
        name: str

    @classmethod
    def evolve(cls, state: TemplateNames | None, event: Event) -> TemplateNames:
        if isinstance(event, TemplateNames.Named):
            return TemplateNames(event.originator_id, event.originator_version,
                                 (*(state.names if state else ()), event.name))
        raise TypeError(f"TemplateNames cannot apply {type(event).__qualname__}")


def check_definition(name: str, kind: str) -> None:
    """A name the path can carry, a known kind; a template named after a kind stands in for
    that kind's default: it makes that kind."""
    if not NAME.fullmatch(name):
        raise InvalidInput("path.name", "a template's name is up to 50 lower case letters, digits, - and _, "
                                        "from a letter or a digit")
    if kind not in KINDS:
        raise InvalidInput("kind", f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if name in KINDS and kind != name:
        raise InvalidInput("kind", f"the template named {name!r} replaces the default {name} template: its kind is {name}")


def define(state: DocumentTemplate | None, name: str, kind: str, subject: str, body: str, html: str,
           meta: Meta) -> list[Event]:
    """Define the template, or revise it; the same texts again record nothing."""
    check_definition(name, kind)
    if state is None:
        return [new_event(DocumentTemplate.Defined, template_id(name), 1, meta, name=name, kind=kind, subject=subject,
                          body=body, html=html)]
    if (state.kind, state.subject, state.body, state.html) == (kind, subject, body, html):
        return []
    return [state.then(DocumentTemplate.Revised, meta, kind=kind, subject=subject, body=body, html=html)]


def name(names: TemplateNames | None, template: str, meta: Meta) -> list[Event]:
    """Enter a newly defined template's name in the list (once)."""
    if names is None:
        return [new_event(TemplateNames.Named, NAMES_ID, 1, meta, name=template)]
    if template in names.names:
        return []
    return [names.then(TemplateNames.Named, meta, name=template)]
