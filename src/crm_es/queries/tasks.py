"""Tasks: lists, one task, a rep's agenda for a day, the next step of a contact or deal,
and the activity types with their colours."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.activity_types import BUILT_IN
from crm_es.queries.sql import Filters, Page, fetch, one, page
from crm_es.queries.visibility import EVERYONE, Visibility

AGENDA_COLUMNS = "id, type, title, due_at, duration_minutes, owner_id, contact_id, deal_id, status"


def activity_types(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The types in force: the table once the configuration was first changed (it then
    holds every type), the built-in ones before."""
    rows = fetch(cur, "SELECT name, label, colour FROM activity_types ORDER BY name", [])
    return rows or sorted(({"name": t.name, "label": t.label, "colour": t.colour} for t in BUILT_IN),
                          key=lambda t: t["name"])


def _coloured(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    colours = {t["name"]: t["colour"] for t in activity_types(cur)}
    for row in rows:
        row["colour"] = colours.get(row["type"])
    return rows


def list_tasks(
    cur: duckdb.DuckDBPyConnection, *, rep: UUID | None = None, contact: UUID | None = None, deal: UUID | None = None,
    status: str | None = None, type: str | None = None, limit: int = 50, cursor: str | None = None,
    visible: Visibility = EVERYONE,
) -> Page:
    f = Filters()
    visible.restrict(f)
    f.equal("owner_id", rep)
    f.equal("contact_id", contact)
    f.equal("deal_id", deal)
    f.equal("status", status)
    f.equal("type", type)
    result = page(cur, "tasks", f, limit, cursor)
    _coloured(cur, result.items)
    return result


def get_task(cur: duckdb.DuckDBPyConnection, task_id: UUID) -> dict[str, Any] | None:
    row = one(cur, "tasks", "id", task_id)
    return _coloured(cur, [row])[0] if row else None


def agenda(cur: duckdb.DuckDBPyConnection, rep_id: UUID, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """The rep's day [start, end): its tasks (cancelled ones aside) and every open task
    overdue at ``now``, whatever its day; overdue first, then by due time."""
    rows = fetch(
        cur,
        f"""SELECT {AGENDA_COLUMNS}, (status = 'open' AND due_at < CAST(? AS TIMESTAMPTZ)) AS overdue
            FROM tasks
            WHERE owner_id = ?
              AND ((due_at >= CAST(? AS TIMESTAMPTZ) AND due_at < CAST(? AS TIMESTAMPTZ) AND status <> 'cancelled')
                   OR (status = 'open' AND due_at < CAST(? AS TIMESTAMPTZ)))
            ORDER BY overdue DESC, due_at, id""",
        [now.isoformat(), str(rep_id), start.isoformat(), end.isoformat(), now.isoformat()],
    )
    return _coloured(cur, rows)


def with_next_step(cur: duckdb.DuckDBPyConnection, row: dict[str, Any] | None, column: str) -> dict[str, Any] | None:
    """A contact (``column`` contact_id) or a deal (deal_id) with its next step (F24): its
    earliest open task, or None."""
    assert column in ("contact_id", "deal_id")
    if row is not None:
        steps = fetch(
            cur,
            f"SELECT id, type, title, due_at, owner_id FROM tasks WHERE {column} = ? AND status = 'open' "
            "ORDER BY due_at, id LIMIT 1",
            [row["id"]],
        )
        row["next_step"] = steps[0] if steps else None
    return row
