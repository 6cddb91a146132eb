"""What the console's board adds to the JSON board: each card's details, and the reps and
teams its filters offer. One query each, whatever the number of cards (the board page
read every company with a query of its own before)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import duckdb

from crm_es.auth.roles import Reach
from crm_es.queries.sql import fetch
from crm_es.queries.visibility import Visibility

# The deals' current rows, even for a board of a past day: the version is what If-Match
# needs now, and the company's name is the one a person knows today. The last activity is
# the latest interaction about the deal that had happened by the board's moment.
_CARDS = """
SELECT CAST(d.id AS VARCHAR) AS id, d.version, d.expected_close, CAST(d.contact_ids[1] AS VARCHAR) AS contact_id,
       c.name AS company_name, a.last_activity_at, n.title AS next_step, n.due_at AS next_step_due
FROM deals AS d LEFT JOIN companies AS c ON c.id = d.company_id
LEFT JOIN (SELECT deal_id, max(occurred_at) AS last_activity_at FROM interactions
           WHERE list_contains(?, CAST(deal_id AS VARCHAR)) AND occurred_at <= ? GROUP BY deal_id) AS a ON a.deal_id = d.id
LEFT JOIN (SELECT DISTINCT ON (deal_id) deal_id, title, due_at FROM tasks
           WHERE status = 'open' AND list_contains(?, CAST(deal_id AS VARCHAR)) ORDER BY deal_id, due_at, id) AS n
       ON n.deal_id = d.id
WHERE list_contains(?, CAST(d.id AS VARCHAR))
"""


def get_board_cards(cur: duckdb.DuckDBPyConnection, deal_ids: Iterable[str], at: datetime) -> dict[str, dict[str, Any]]:
    """``{deal id: {version, expected_close, contact_id (the first named), company_name,
    last_activity_at (by ``at``; None: none), next_step and next_step_due (its earliest open
    task now: the board shows it on today's board only)}}`` for the deals a board shows (already kept
    to the caller's reach by the board)."""
    wanted = sorted({str(deal_id) for deal_id in deal_ids})
    if not wanted:
        return {}
    return {row["id"]: row for row in fetch(cur, _CARDS, [wanted, at, wanted, wanted])}


def list_owner_choices(cur: duckdb.DuckDBPyConnection, visible: Visibility) -> list[dict[str, Any]]:
    """The reps whose deals the reader sees (``{id, name}``, by name): the board's owner filter."""
    reach = visible.clause("r.id")
    where, params = (f"WHERE {reach[0]}", reach[1]) if reach else ("", [])
    return fetch(cur, f"SELECT CAST(r.id AS VARCHAR) AS id, r.name FROM reps AS r {where} ORDER BY r.name, r.id", params)


def list_team_choices(cur: duckdb.DuckDBPyConnection, visible: Visibility) -> list[dict[str, Any]]:
    """The teams the reader sees deals of (``{id, name}``, by name): every team for a reader
    who reaches all deals; else the teams of the reps in their reach, so a team filter never
    names a team whose deals the board would leave out anyway."""
    if visible.reach is Reach.ALL:
        where, params = "", []
    else:
        reach = visible.clause("r.id")
        assert reach is not None
        where, params = f"WHERE t.id IN (SELECT r.team_id FROM reps AS r WHERE {reach[0]})", reach[1]
    return fetch(cur, f"SELECT CAST(t.id AS VARCHAR) AS id, t.name FROM teams AS t {where} ORDER BY t.name, t.id", params)
