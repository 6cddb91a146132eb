"""A deal's stays: each time it entered a stage, and how it left it.

Read from ``deal_history``: a *transition* is a version where the deal's stage or status
changed (its first version included). Each transition into an open stage starts a stay;
the deal's next transition ends it — ``advanced`` (to a stage placed later), ``slipped_back``
(earlier), ``won`` or ``lost`` — or nothing has yet (``outcome`` null). A stage's place
is its last known ``sort_order`` (a removed stage keeps the place it had).

``known_at`` keeps only the versions recorded by then (a prefix of each deal's versions).

The SQL of the reports is plain enough (no DuckDB-only syntax) to run unchanged on
PostgreSQL: the benchmark runs the very same statements there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.queries.visibility import EVERYONE, Visibility

TRANSITIONS = """
SELECT deal_id, version, pipeline_id, stage_id, status, amount, currency, owner_id, source, title, valid_from AS moved_at,
       previous_stage_id AS prev_stage, previous_status AS prev_status
FROM deal_history
WHERE {known} AND (previous_status IS NULL OR previous_status <> status OR previous_stage_id <> stage_id)
"""

PLACES = """
SELECT DISTINCT ON (stage_id) stage_id, sort_order AS place, name
FROM pipeline_stage_history WHERE sort_order IS NOT NULL ORDER BY stage_id, version DESC
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
    FROM {transitions} AS x WINDOW w AS (PARTITION BY deal_id ORDER BY version)
) AS t
JOIN ({places}) AS p ON p.stage_id = t.stage_id
LEFT JOIN ({places}) AS n ON n.stage_id = t.next_stage_id
WHERE t.status = 'open'
"""


def transitions_sql(known_at: datetime | None, visible: Visibility = EVERYONE,
                    pipeline: UUID | None = None) -> tuple[str, list[Any]]:
    """The transitions as a subquery, and its parameters. ``visible``: only those whose
    owner then was in the reader's reach (a manager: their team); ``pipeline``: only its
    deals (a deal never changes pipeline)."""
    known, params = ("recorded_at <= ?", [known_at]) if known_at is not None else ("true", [])
    if pipeline is not None:
        known, params = f"{known} AND pipeline_id = ?", [*params, str(pipeline)]
    return _in_reach(f"({TRANSITIONS.format(known=known)})", params, visible)


def stays_sql(known_at: datetime | None, visible: Visibility = EVERYONE,
              pipeline: UUID | None = None) -> tuple[str, list[Any]]:
    """The stays as a subquery, and its parameters. A stay is in reach by its owner when it
    began: the deal's other stays still say how it ended (they are worked out first)."""
    transitions, params = transitions_sql(known_at, EVERYONE, pipeline)
    return _in_reach(f"({STAYS.format(transitions=transitions, places=PLACES)})", params, visible)


def _in_reach(sql: str, params: list[Any], visible: Visibility) -> tuple[str, list[Any]]:
    reach = visible.clause("owner_id")
    if reach is None:
        return sql, params
    return f"(SELECT * FROM {sql} AS r WHERE {reach[0]})", [*params, *reach[1]]
