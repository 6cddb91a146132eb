"""The built-in template of each kind: what a document is made from until an admin defines
a template under the kind's name (PUT /document-templates/invoice …). Version 0. Written
for fpdf2's HTML (headings, paragraphs, a table with every column's width, b, i, br)."""

from __future__ import annotations

from crm_es.aggregates.document_template import CONTRACT, INVOICE, KINDS, QUOTE, DocumentTemplate
from crm_es.documents.templates import Template

_HEADER = """<h1>{title} {{{{ document.number }}}}</h1>
<p>Issued on {{{{ document.issued_on }}}}{due}</p>
<p><b>{{{{ contact.name }}}}</b>{{% if contact.job_title %}}, {{{{ contact.job_title }}}}{{% endif %}}
{{% if contact.company_name %}}<br>{{{{ contact.company_name }}}}{{% endif %}}
{{% if contact.city %}}<br>{{{{ contact.city }}}}{{% endif %}}<br>{{{{ contact.email }}}}</p>
{{% if deal %}}<p>Regarding: <i>{{{{ deal.title }}}}</i></p>{{% endif %}}
"""

_LINES = """<table border="1">
<thead><tr><th width="52%">Description</th><th width="12%">Quantity</th><th width="18%">Unit price</th><th width="18%">Amount</th></tr></thead>
<tbody>{% for line in document.lines %}<tr><td>{{ line.description }}</td><td align="right">{{ line.quantity }}</td><td align="right">{{ line.unit_price }}</td><td align="right">{{ line.amount }}</td></tr>{% endfor %}</tbody>
</table>
<p><b>Total: {{ document.total }} {{ document.currency }}</b></p>
"""

_SIGNATURE = """<p>{% if rep.signature %}{% for row in rep.signature.splitlines() %}{{ row }}<br>{% endfor %}\
{% else %}{{ rep.name }}{% endif %}</p>
"""

_TEXTS = {
    QUOTE: ("Quote", "", "<p>This quote is valid for 30 days from its issue date.</p>\n",
            "Please find attached our quote {{ document.number }}, for {{ document.total }} {{ document.currency }}."),
    CONTRACT: ("Contract", "", "<p>Signed for the seller:</p>\n",
               "Please find attached the contract {{ document.number }}{% if deal %} for {{ deal.title }}{% endif %}."),
    INVOICE: ("Invoice", "<br>Due on {{ document.due_on }}",
              "<p>Please pay {{ document.total }} {{ document.currency }} by {{ document.due_on }}, quoting "
              "{{ document.number }}.</p>\n",
              "Please find attached our invoice {{ document.number }}, for {{ document.total }} "
              "{{ document.currency }}, due on {{ document.due_on }}."),
}


def _default(kind: str) -> Template:
    title, due, closing, sentence = _TEXTS[kind]
    html = _HEADER.format(title=title, due=due) + _LINES + closing + _SIGNATURE
    body = f"Hello {{{{ contact.first_name }}}},\n\n{sentence}\n\nBest regards,\n{{{{ rep.signature or rep.name }}}}\n"
    return Template(kind, 0, kind, f"{title} {{{{ document.number }}}}", body, html)


DEFAULTS: dict[str, Template] = {kind: _default(kind) for kind in KINDS}


def current_template(state: DocumentTemplate | None, name: str) -> Template | None:
    """The template documents are made from under this name: the defined one (as of the
    state given), or the built-in default of the kind it is named after; None when there
    is no such template."""
    if state is not None:
        return Template(state.name, state.version, state.kind, state.subject, state.body, state.html)
    return DEFAULTS.get(name)
