"""A deal's stays: each time it entered a stage, and how it left it.

Read from ``deal_history``: a *transition* is a version where the deal's stage or status
changed (its first version included). Each transition into an open stage starts a stay;
the deal's next transition ends it — ``advanced`` (to a stage placed later), ``slipped_back``
(earlier), ``won`` or ``lost`` — or nothing has yet (``outcome`` null). A stage's place
is its last known ``sort_order`` (a removed stage keeps the place it had).

``known_at`` keeps only the versions recorded by then (a prefix of each deal's versions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_es.queries.visibility import EVERYONE, Visibility

TRANSITIONS = """
SELECT deal_id, version, pipeline_id, stage_id, status, amount, currency, owner_id, source, title, valid_from AS moved_at,
       prev_stage, prev_status
FROM (
    SELECT h.*, lag(stage_id) OVER w AS prev_stage, lag(status) OVER w AS prev_status
    FROM deal_history h WHERE {known}
    WINDOW w AS (PARTITION BY deal_id ORDER BY version)
) WHERE prev_status IS NULL OR prev_status <> status OR prev_stage <> stage_id
"""

PLACES = """
SELECT stage_id, arg_max(sort_order, version) AS place, arg_max(name, version) AS name
FROM pipeline_stage_history WHERE sort_order IS NOT NULL GROUP BY stage_id
"""

STAYS = """
SELECT t.deal_id, t.pipeline_id, t.stage_id, p.name AS stage, t.amount, t.currency, t.owner_id, t.source,
       t.moved_at AS entered_at, t.next_at AS left_at, t.first_at AS opened_at,
       CASE WHEN t.next_status IS NULL THEN NULL
            WHEN t.next_status IN ('won', 'lost') THEN t.next_status
            WHEN n.place > p.place THEN 'advanced' ELSE 'slipped_back' END AS outcome,
       t.next_stage_id, t.next_amount, t.next_currency
FROM (
    SELECT *, lead(moved_at) OVER w AS next_at, lead(status) OVER w AS next_status, lead(stage_id) OVER w AS next_stage_id,
           lead(amount) OVER w AS next_amount, lead(currency) OVER w AS next_currency,
           first_value(moved_at) OVER w AS first_at
    FROM {transitions} WINDOW w AS (PARTITION BY deal_id ORDER BY version)
) AS t
JOIN ({places}) AS p ON p.stage_id = t.stage_id
LEFT JOIN ({places}) AS n ON n.stage_id = t.next_stage_id
WHERE t.status = 'open'
"""


def transitions_sql(known_at: datetime | None, visible: Visibility = EVERYONE) -> tuple[str, list[Any]]:
    """The transitions as a subquery, and its parameters. ``visible``: only the deals
    whose owner then was in the reader's reach (a manager: their team)."""
    known, params = ("recorded_at <= ?", [known_at]) if known_at is not None else ("true", [])
    sql = f"({TRANSITIONS.format(known=known)})"
    reach = visible.clause("owner_id")
    if reach is None:
        return sql, params
    return f"(SELECT * FROM {sql} WHERE {reach[0]})", [*params, *reach[1]]


def stays_sql(known_at: datetime | None, visible: Visibility = EVERYONE) -> tuple[str, list[Any]]:
    """The stays as a subquery, and its parameters."""
    transitions, params = transitions_sql(known_at, visible)
    return f"({STAYS.format(transitions=transitions, places=PLACES)})", params
