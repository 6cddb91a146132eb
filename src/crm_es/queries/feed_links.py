"""What the console's news feed adds to GET /feed's items: the contact page each links to
(a deal's: the first contact it names now, when the reader may read that contact), for a
page of items in one query."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from crm_es.queries.visibility import Visibility

_FIRST_CONTACTS = """
SELECT CAST(d.id AS VARCHAR), CAST(d.contact_ids[1] AS VARCHAR), CAST(c.owner_id AS VARCHAR)
FROM deals AS d LEFT JOIN contacts AS c ON c.id = d.contact_ids[1]
WHERE list_contains(?, CAST(d.id AS VARCHAR))
"""


def first_contacts(cur: duckdb.DuckDBPyConnection, deal_ids: Iterable[str], visible: Visibility) -> dict[str, str | None]:
    """``{deal id: its first contact's id}`` for the deals given; None when it names none or
    the contact's owner is outside the reader's reach (a deal of theirs may name someone else's)."""
    wanted = sorted({str(deal_id) for deal_id in deal_ids})
    if not wanted:
        return {}
    rows = cur.execute(_FIRST_CONTACTS, [wanted]).fetchall()
    owners = {owner for _, contact, owner in rows if contact is not None}
    seen = {owner: visible.sees(cur, owner) for owner in owners}
    return {deal: contact if contact is not None and seen[owner] else None for deal, contact, owner in rows}
