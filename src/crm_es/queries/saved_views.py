"""A person's saved views of the console's lists, and what a view's filters may name: the
list queries' own parameters (records.list_contacts, list_companies, list_deals), so a
view opened is exactly the list the API answers for the same query string."""

from __future__ import annotations

import duckdb

from crm_es.queries.sql import Filters, Page, page

# Filter name -> what its value is ("id": a UUID; "text": any text). Paging (limit, cursor)
# is not a filter: a view opens at its first page.
LIST_FILTERS: dict[str, dict[str, str]] = {
    "contacts": {"status": "text", "owner": "id", "tag": "text", "source": "text", "company": "id", "q": "text"},
    "companies": {"sector": "text", "q": "text"},
    "deals": {"status": "text", "owner": "id", "stage": "text", "pipeline": "id", "source": "text", "company": "id",
              "q": "text"},
}
# The filters a view keeps. Not the contacts' search text: it searches names and e-mail
# addresses, so it may be a person's name, and a view is not erased with that person (it is
# its saver's, sealed with no contact's key).
KEPT_IN_VIEWS = {kind: {name: what for name, what in filters.items() if (kind, name) != ("contacts", "q")}
                 for kind, filters in LIST_FILTERS.items()}


def list_views(cur: duckdb.DuckDBPyConnection, saved_by: str, list_name: str | None = None, *, limit: int = 50,
               cursor: str | None = None) -> Page:
    """The views ``saved_by`` (an actor) saved, of one list or all, newest first."""
    f = Filters()
    f.equal("saved_by", saved_by)
    f.equal("list", list_name)
    return page(cur, "saved_views", f, limit, cursor, ("filters",))
