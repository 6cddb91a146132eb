"""/outbox: what the automations sent out, or are still trying to (or hold back: the
contact-frequency cap) — its delivery state only. Addresses and texts are the person's:
they stay sealed in the log, never shown here."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query

from crm_es.aggregates.message import STATUSES, utc_text
from crm_es.entrypoints.http.answers import OutboxPage
from crm_es.entrypoints.http.deps import ServicesDep
from crm_es.queries.sql import BadCursor

router = APIRouter(tags=["outbox"])

Status = Literal[STATUSES]  # type: ignore[valid-type]


def _cursor(created_at: str, delivery_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, delivery_id])).decode()


def _after(cursor: str) -> tuple[str, str]:
    """The row a page ended at, in the outbox's own spelling (the text order is compared)."""
    try:
        created_at, delivery_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return utc_text(datetime.fromisoformat(created_at)), str(UUID(delivery_id))
    except Exception as error:
        raise BadCursor("cursor is not one this service gave out") from error


@router.get("/outbox", response_model=OutboxPage)
def list_outbox(
    services: ServicesDep,
    status: Annotated[Status | None, Query(description="only the messages in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """The messages newest first (their delivery state), and how many are in each state."""
    outbox = services.store.outbox
    rows = outbox.page(status, _after(cursor) if cursor is not None else None, limit + 1)
    items, more = rows[:limit], len(rows) > limit
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(outbox.counts())
    return {"items": items, "next_cursor": _cursor(items[-1]["created_at"], items[-1]["delivery_id"]) if more else None,
            "counts": counts}
