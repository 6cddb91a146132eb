"""Transitions and stays of deals, as subqueries the reports build on.

A *transition* is a version of ``deal_history`` where the deal's stage or status changed
(its first version included). A *stay* is a row of ``deal_stays`` (projections/deal_stays.py):
a deal entered an open stage; its next transition ended it (``next_status``, ``next_stage_id``)
or nothing has yet. A deal's first stay is its ``opening``: a deal opened and moved at one
instant (as an import writes it) enters two stages at that instant but was opened once, so
an opening is told by its place among the deal's stays, never by ``entered_at = opened_at``.
Its ``outcome`` — ``advanced`` (to a stage placed later), ``slipped_back`` (earlier), ``won``
or ``lost`` — goes by each stage's last known place (a removed stage keeps the place it had),
read when the report runs: the reports group the stays first, then name the outcome of each
group.

``known_at`` keeps only what was recorded by then: the versions recorded by K (a prefix
of each deal's versions), the stays begun by K, and their ends only if recorded by K.

The SQL of the reports is plain enough (no DuckDB-only syntax) to run unchanged on
PostgreSQL: the benchmark runs the very same statements there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.projections.deal_stays import MOVE
from crm_es.queries.visibility import EVERYONE, Visibility

TRANSITIONS = f"""
SELECT deal_id, version, pipeline_id, stage_id, status, amount, currency, owner_id, source, title, valid_from AS moved_at,
       previous_stage_id AS prev_stage, previous_status AS prev_status
FROM deal_history
WHERE {{known}} AND {MOVE}
"""

# Each stage's last version: its place and name (a removal keeps the stage's place).
PLACES = """
SELECT stage_id, sort_order AS place, name FROM pipeline_stage_history WHERE valid_to IS NULL
"""

STAY_COLUMNS = ("deal_id, pipeline_id, stage_id, amount, currency, owner_id, source, opening, entered_at, opened_at, left_at, "
                "next_status, next_stage_id, next_amount, next_currency, won_at")

# The stays begun by K; an end recorded after K had not happened yet, as far as K knew.
KNOWN_STAYS = """
SELECT deal_id, pipeline_id, stage_id, amount, currency, owner_id, source, opening, entered_at, opened_at,
       CASE WHEN ended THEN left_at END AS left_at, CASE WHEN ended THEN next_status END AS next_status,
       CASE WHEN ended THEN next_stage_id END AS next_stage_id, CASE WHEN ended THEN next_amount END AS next_amount,
       CASE WHEN ended THEN next_currency END AS next_currency, CASE WHEN won_recorded_at <= ? THEN won_at END AS won_at
FROM (SELECT *, left_recorded_at <= ? AS ended FROM deal_stays WHERE entered_recorded_at <= ? AND {pipeline}) AS k
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
    """The stays as a subquery (``STAY_COLUMNS``), and its parameters. A stay is in reach
    by its owner when it began."""
    where, params = ("pipeline_id = ?", [str(pipeline)]) if pipeline is not None else ("true", [])
    if known_at is None:
        known = f"SELECT {STAY_COLUMNS} FROM deal_stays WHERE {where}"
    else:
        known, params = KNOWN_STAYS.format(pipeline=where), [known_at, known_at, known_at, *params]
    return _in_reach(f"({known})", params, visible)


def outcome(stay_stage: Any, next_status: str | None, next_stage: Any, places: dict[str, int]) -> str | None:
    """How a stay ended: won, lost, advanced (to a stage placed later), slipped_back, or
    None (it has not, as far as the report knows)."""
    if next_status is None or next_status in ("won", "lost"):
        return next_status
    then, now = places.get(str(stay_stage)), places.get(str(next_stage))
    return "advanced" if then is not None and now is not None and now > then else "slipped_back"


def _in_reach(sql: str, params: list[Any], visible: Visibility) -> tuple[str, list[Any]]:
    reach = visible.clause("owner_id")
    if reach is None:
        return sql, params
    return f"(SELECT * FROM {sql} AS r WHERE {reach[0]})", [*params, *reach[1]]
