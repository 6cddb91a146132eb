"""The funnel (F27, F30): per stage, how many deals entered it in the period, moved on,
slipped back, were lost there or are still there; stage and overall conversion, and the
stage that loses the most. Outcomes count when they happened by ``as_of`` (default: all)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from crm_es.queries.analytics.period import Period, grouping, ratio, text
from crm_es.queries.analytics.stays import PLACES, stays_sql
from crm_es.queries.visibility import EVERYONE, Visibility

OUTCOMES = ("advanced", "won", "slipped_back", "lost")


def funnel(cur: duckdb.DuckDBPyConnection, pipeline: UUID, period: Period, by: str | None = None,
           visible: Visibility = EVERYONE) -> dict[str, Any]:
    """``visible``: whose deals count (a manager's: their team's, by the owner then)."""
    stays, params = stays_sql(period.known_at, visible, pipeline)
    key = grouping(by)
    # An outcome after as_of had not happened yet: the deal was still there.
    outcome = "CASE WHEN left_at <= ? THEN outcome END" if period.as_of is not None else "outcome"
    outcome_params = [period.as_of] if period.as_of is not None else []
    rows = _rows(cur, stays, params, key, outcome, outcome_params, pipeline, period)
    stages = stages_of(cur, pipeline)
    groups: dict[Any, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(row["key"], {"key": text(row["key"]), "counts": {}, "opened": 0, "won": 0})
        group["counts"][str(row["stage_id"])] = row
        group["opened"] += row["opened"]
        group["won"] += row["opened_won"]
    if not groups and by is None:
        groups[None] = {"key": None, "counts": {}, "opened": 0, "won": 0}
    return {
        "pipeline_id": str(pipeline), **period.body(), "by": by,
        "groups": [_group(g, stages) for g in sorted(groups.values(), key=lambda g: (g["key"] is None, g["key"] or ""))],
    }


def _rows(cur: duckdb.DuckDBPyConnection, stays: str, params: list[Any], key: str, outcome: str,
          outcome_params: list[Any], pipeline: UUID, period: Period) -> list[dict[str, Any]]:
    counts = ", ".join(f"count(*) FILTER (WHERE o = '{o}') AS {o}" for o in OUTCOMES)
    won_ever = "o = 'won' OR deal_id IN (SELECT deal_id FROM here WHERE o = 'won')"
    sql = (
        f"WITH here AS MATERIALIZED (SELECT *, {outcome} AS o FROM {stays} AS s WHERE pipeline_id = ? "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR entered_at <= ?)) "
        f"SELECT {key} AS key, stage_id, count(*) AS entered, {counts}, count(*) FILTER (WHERE o IS NULL) AS still_there, "
        "count(*) FILTER (WHERE entered_at = opened_at) AS opened, "
        f"count(*) FILTER (WHERE entered_at = opened_at AND ({won_ever})) AS opened_won "
        "FROM here WHERE entered_at >= ? AND entered_at < ? GROUP BY key, stage_id"
    )
    result = cur.execute(sql, [*outcome_params, *params, str(pipeline), period.as_of, period.as_of, period.start, period.end])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def stages_of(cur: duckdb.DuckDBPyConnection, pipeline: UUID) -> list[tuple[str, str]]:
    """The pipeline's stages in their place, those since removed included."""
    rows = cur.execute(
        f"SELECT DISTINCT p.stage_id, p.name, p.place FROM ({PLACES}) AS p "
        "JOIN pipeline_stage_history h ON h.stage_id = p.stage_id WHERE h.pipeline_id = ? ORDER BY p.place, p.stage_id",
        [str(pipeline)],
    ).fetchall()
    return [(str(stage_id), name) for stage_id, name, _ in rows]


def _group(group: dict[str, Any], stages: list[tuple[str, str]]) -> dict[str, Any]:
    rows = []
    for stage_id, name in stages:
        c = group["counts"].get(stage_id, {})
        entered = c.get("entered", 0)
        moved_on = c.get("advanced", 0) + c.get("won", 0)
        rows.append({
            "stage_id": stage_id, "name": name, "entered": entered, "moved_on": moved_on, "won": c.get("won", 0),
            "slipped_back": c.get("slipped_back", 0), "lost": c.get("lost", 0), "still_there": c.get("still_there", 0),
            "conversion": ratio(moved_on, entered),
        })
    most = max(rows, key=lambda r: r["lost"], default=None)
    return {
        "key": group["key"], "stages": rows, "opened": group["opened"], "won": group["won"],
        "overall_conversion": ratio(group["won"], group["opened"]),
        "most_losses": most["name"] if most and most["lost"] else None,
    }
