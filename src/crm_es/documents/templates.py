"""What a document template may say, and the check of its text when it is set (PUT
/document-templates/{name}): Jinja2 in a sandbox, strict about undefined variables,
autoescaped in the HTML (a contact named ``<b>`` stays text). A syntax error is a 422
naming the field and the line; a variable outside the documented set — or an attribute
the documented objects do not have — is a 422 naming it, before any customer meets it.

The documented variables (README, "Documents"):

- ``contact``: first_name, last_name, name, email, phone, job_title, city, company_name, status
- ``rep``: name, email, signature (empty when the document names no rep)
- ``deal``: title, amount, currency, stage — or none (test it: ``{% if deal %}``)
- ``document``: number, kind, issued_on, due_on, lines (each: description, quantity,
  unit_price, amount), total, currency
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from crm_es.aggregates.base import InvalidInput
from crm_es.aggregates.company import Company
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.deal import Deal
from crm_es.aggregates.document import Draft, Line
from crm_es.aggregates.document_register import PREFIX
from crm_es.aggregates.rep import Rep

LINE = ("description", "quantity", "unit_price", "amount")
VARIABLES: dict[str, tuple[str, ...]] = {
    "contact": ("first_name", "last_name", "name", "email", "phone", "job_title", "city", "company_name", "status"),
    "rep": ("name", "email", "signature"),
    "deal": ("title", "amount", "currency", "stage"),
    "document": ("number", "kind", "issued_on", "due_on", "lines", "total", "currency"),
}
FIELDS = ("subject", "body", "html")  # a template's texts, as the request names them


@dataclass(frozen=True)
class Template:
    """A template as documents are made from it: a defined one's version, or a kind's
    built-in default (version 0)."""

    name: str
    version: int
    kind: str
    subject: str
    body: str
    html: str


@cache
def environment(html: bool) -> SandboxedEnvironment:
    """The HTML is autoescaped; the e-mail's subject and body are plain text (an ``&`` in a
    company's name stays one)."""
    return SandboxedEnvironment(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)


def check(field: str, text: str) -> None:
    """Refuse a text that does not parse, or that names what no document has."""
    try:
        tree = environment(field == "html").parse(text)
    except TemplateSyntaxError as error:
        refusal = InvalidInput(field, f"line {error.lineno}: {error.message}")
        refusal.extra["line"] = error.lineno
        raise refusal from None
    unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES))
    if unknown:
        raise InvalidInput(field, f"unknown template variable {unknown[0]!r} (known: {', '.join(VARIABLES)})")
    attribute = _unknown_attribute(tree)
    if attribute is not None:
        name, attr = attribute
        known = ", ".join(f"{name}.{a}" for a in (LINE if name not in VARIABLES else VARIABLES[name]))
        raise InvalidInput(field, f"unknown template variable {name}.{attr} (known: {known})")


def _unknown_attribute(tree: nodes.Template) -> tuple[str, str] | None:
    """The first ``object.attribute`` (or ``object['attribute']``) that the documented objects
    lack. The lines of a ``{% for line in document.lines %}`` are checked as lines."""
    known = dict(VARIABLES)
    for loop in tree.find_all(nodes.For):
        if (isinstance(loop.iter, nodes.Getattr) and isinstance(loop.iter.node, nodes.Name)
                and (loop.iter.node.name, loop.iter.attr) == ("document", "lines") and isinstance(loop.target, nodes.Name)):
            known[loop.target.name] = LINE
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node.node, nodes.Name) or node.node.name not in known:
            continue
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attr = node.arg.value
        else:
            continue  # an index computed when rendered: StrictUndefined says then
        if attr not in known[node.node.name]:
            return node.node.name, attr
    return None


def fill(field: str, text: str, values: Mapping[str, Any]) -> str:
    """The text with the values in; InvalidInput naming ``field`` when it cannot be filled
    (an attribute of a missing deal, a filter given the wrong type …)."""
    try:
        return environment(field == "html").from_string(text).render(values)
    except Exception as error:  # the sandbox's and the template's own errors alike
        raise InvalidInput(field, f"the {field} could not be filled: {type(error).__name__}: {error}") from None


# --- the values a document is filled with ----------------------------------------------


def values(contact: Contact, company: Company | None, rep: Rep | None, deal: Deal | None, stage: str | None,
           draft: Draft, number: str) -> dict[str, Any]:
    d = contact.details
    names = [n for n in (d.first_name, d.last_name) if n]
    return {
        "contact": {"first_name": d.first_name or "", "last_name": d.last_name or "", "name": " ".join(names),
                    "email": d.email or "", "phone": d.phone or "", "job_title": d.job_title or "", "city": d.city or "",
                    "company_name": company.details.name if company is not None else "", "status": contact.status},
        "rep": {"name": rep.name if rep else "", "email": rep.email if rep else "",
                "signature": (rep.signature or "") if rep else ""},
        "deal": None if deal is None else {"title": deal.details.title or "", "amount": deal.amount, "currency": deal.currency,
                                           "stage": stage or ""},
        "document": document_values(draft, number),
    }


def document_values(draft: Draft, number: str) -> dict[str, Any]:
    return {"number": number, "kind": draft.kind, "issued_on": draft.issued_on, "due_on": draft.due_on,
            "lines": [{name: getattr(line, name) for name in LINE} for line in draft.lines], "total": draft.total,
            "currency": draft.currency}


def sample_values(kind: str) -> dict[str, Any]:
    """What a template is tried with when it is set: every variable filled, a deal given."""
    line = Line("Fleet maintenance, 12 months", Decimal(2), Decimal("1500.00"), Decimal("3000.00"))
    draft = Draft(kind, (line,), line.amount, "EUR", date(2026, 3, 1), date(2026, 3, 31) if kind == "invoice" else None)
    return {
        "contact": {"first_name": "Zoë", "last_name": "Dupont-Łukasz", "name": "Zoë Dupont-Łukasz",
                    "email": "zoe@example.com", "phone": "+33 6 12 34 56 78", "job_title": "Buyer", "city": "Lyon",
                    "company_name": "Acme & Co", "status": "customer"},
        "rep": {"name": "Alice Martin", "email": "alice@example.com", "signature": "Alice Martin\nAccount manager"},
        "deal": {"title": "Fleet renewal", "amount": Decimal("12000.00"), "currency": "EUR", "stage": "Signature"},
        "document": document_values(draft, f"{PREFIX[kind]}-2026-0001"),
    }
