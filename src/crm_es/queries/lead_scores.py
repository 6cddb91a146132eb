"""A contact's lead score (F18): the sum of its changes as of a moment, and the last of
them — each saying which rule, how many points and which event."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import duckdb

from crm_es.queries.sql import fetch, jsonable

CHANGES_SHOWN = 50


def contact_owner(cur: duckdb.DuckDBPyConnection, contact_id: UUID) -> dict[str, Any] | None:
    """``{"owner_id": …}`` of the contact (what a check of reach reads), None if there is no such contact."""
    row = cur.execute("SELECT owner_id FROM contacts WHERE id = ?", [str(contact_id)]).fetchone()
    return None if row is None else {"owner_id": row[0]}


def lead_score(cur: duckdb.DuckDBPyConnection, contact_id: UUID, as_of: datetime | None) -> dict[str, Any]:
    """The score as of ``as_of`` (business time; None: now): the sum of the changes that
    occurred by then, and the last ``CHANGES_SHOWN`` of them, newest first."""
    # A sum, not the last row's ``score``: a change recorded late (an interaction logged
    # afterwards) still counts from when it occurred.
    until, params = ("AND occurred_at <= ?", [str(contact_id), as_of.isoformat()]) if as_of else ("", [str(contact_id)])
    [(score,)] = cur.execute(
        f"SELECT coalesce(sum(points), 0) FROM lead_score_changes WHERE contact_id = ? {until}", params).fetchall()
    changes = fetch(
        cur,
        "SELECT occurred_at, recorded_at, points, score, reason, rule, cause, position FROM lead_score_changes "
        f"WHERE contact_id = ? {until} ORDER BY occurred_at DESC, position DESC LIMIT {CHANGES_SHOWN}",
        params,
    )
    return {"contact_id": str(contact_id), "score": int(score), "as_of": jsonable(as_of), "changes": changes}
