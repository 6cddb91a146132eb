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
from crm_es.queries import lead_scores

router = APIRouter(tags=["lead scoring"])


@router.get("/contacts/{contact_id}/score", response_model=LeadScore)
def get_contact_score(contact_id: UUID, cur: ReadCursor, visible: Visible, as_of: AsOf = None) -> dict[str, Any]:
    """The score as of ``as_of`` (business time; default: now): the sum of the changes that
    occurred by then, and the last 50 of them, newest first."""
    if readable(cur, visible, lead_scores.contact_owner(cur, contact_id)) is None:
        raise NotFound("contact", contact_id)
    return lead_scores.lead_score(cur, contact_id, as_of)
