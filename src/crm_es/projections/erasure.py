"""Forgetting a person in the read side: every table's personal columns about them
become null, wherever they are (the contact's own row today; timelines and notes as
they arrive, by declaring ``personal`` and ``subject`` on their table). A deal's free text
has no one subject (one title, several contacts): each deal that named the person records
``Deal.ContactForgotten`` beside their ``Contact.Forgotten``, and projections/deals.py nulls
its copies (and those of its tasks about no contact)."""

from __future__ import annotations

from crm_es.projections.rows import EventRow, Op, Patch, PatchWhere, stamp
from crm_es.projections.schema import TABLES


def contact_forgotten(e: EventRow) -> list[Op]:
    erase: list[Op] = [
        PatchWhere(table.name, {table.subject: e.id}, {column: None for column in table.personal})
        for table in TABLES
        if table.personal and table.subject
    ]
    return [*erase, Patch("contacts", e.id, {**stamp(e), "forgotten_at": e.occurred_at})]
