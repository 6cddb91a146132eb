"""/contacts/{id}/score: a contact's lead score (F18), now or as of a past date, with the
changes that made it — each saying which rule, how many points and which event."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.answers import LeadScore
from crm_es.entrypoints.http.auth import Visible, readable
from crm_es.entrypoints.http.deps import AsOf, ReadCursor
from crm_es.queries.sql import fetch, jsonable

router = APIRouter(tags=["lead scoring"])

CHANGES_SHOWN = 50


@router.get("/contacts/{contact_id}/score", response_model=LeadScore)
def get_contact_score(contact_id: UUID, cur: ReadCursor, visible: Visible, as_of: AsOf = None) -> dict[str, Any]:
    """The score as of ``as_of`` (business time; default: now): the sum of the changes that
    occurred by then, and the last 50 of them, newest first."""
    owner = cur.execute("SELECT owner_id FROM contacts WHERE id = ?", [str(contact_id)]).fetchone()
    if readable(cur, visible, None if owner is None else {"owner_id": owner[0]}) is None:
        raise NotFound("contact", contact_id)
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
