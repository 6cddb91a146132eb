"""The funnel (F27, F30): per stage, how many deals entered it in the period, moved on,
slipped back, were lost there or are still there; stage and overall conversion, and the
stage that loses the most. Outcomes count when they happened by ``as_of`` (default: all).

A deal is opened once, by its first stay (``opening``), even when it entered several
stages at that instant (an import); "won" counts the opened deals won by ``as_of``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from crm_es.queries.analytics.period import Period, grouping, ratio, text
from crm_es.queries.analytics.stays import PLACES, outcome, stays_sql
from crm_es.queries.names import key_names
from crm_es.queries.visibility import EVERYONE, Visibility

OUTCOMES = ("advanced", "won", "slipped_back", "lost")


def funnel(cur: duckdb.DuckDBPyConnection, pipeline: UUID, period: Period, by: str | None = None,
           visible: Visibility = EVERYONE) -> dict[str, Any]:
    """``visible``: whose deals count (a manager's: their team's, by the owner then)."""
    stays, params = stays_sql(period.known_at, visible, pipeline)
    stages = stages_of(cur, pipeline)
    places = {stage_id: place for stage_id, _, place in stages}
    groups: dict[Any, dict[str, Any]] = {}
    for key, stage_id, next_status, next_stage, entered, opened, opened_won in _rows(cur, stays, params, by, pipeline, period):
        group = groups.setdefault(key, {"key": text(key), "counts": {}, "opened": 0, "won": 0})
        counts = group["counts"].setdefault(str(stage_id), dict.fromkeys(("entered", *OUTCOMES, "still_there"), 0))
        counts["entered"] += entered
        counts[outcome(stage_id, next_status, next_stage, places) or "still_there"] += entered
        group["opened"] += opened
        group["won"] += opened_won
    if not groups and by is None:
        groups[None] = {"key": None, "counts": {}, "opened": 0, "won": 0}
    return {
        "pipeline_id": str(pipeline), **period.body(), "by": by,
        "groups": key_names(cur, [_group(g, stages) for g in sorted(groups.values(),
                                                                   key=lambda g: (g["key"] is None, g["key"] or ""))], by),
    }


def _rows(cur: duckdb.DuckDBPyConnection, stays: str, params: list[Any], by: str | None, pipeline: UUID,
          period: Period) -> list[tuple[Any, ...]]:
    """The stays entered in the period, counted per group, stage and how they ended (by
    ``as_of``: an end after it had not happened yet); each group's outcome is named after."""
    ended = "next_status IS NOT NULL AND (CAST(? AS TIMESTAMPTZ) IS NULL OR left_at <= ?)"
    won = "won_at IS NOT NULL AND (CAST(? AS TIMESTAMPTZ) IS NULL OR won_at <= ?)"  # the deal, by as_of
    sql = (
        f"SELECT key, stage_id, o_status, o_stage, count(*) AS entered, count(*) FILTER (WHERE opening) AS opened, "
        f"count(*) FILTER (WHERE opening AND {won}) AS opened_won FROM ("
        f"SELECT stage_id, opening, won_at, {grouping(by)} AS key, "
        f"CASE WHEN {ended} THEN next_status END AS o_status, CASE WHEN {ended} THEN next_stage_id END AS o_stage "
        f"FROM {stays} AS s WHERE pipeline_id = ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR entered_at <= ?) "
        "AND entered_at >= ? AND entered_at < ?) AS here GROUP BY key, stage_id, o_status, o_stage"
    )
    as_of = period.as_of
    return cur.execute(sql, [as_of, as_of, as_of, as_of, as_of, as_of, *params, str(pipeline), as_of, as_of,
                             period.start, period.end]).fetchall()


def stages_of(cur: duckdb.DuckDBPyConnection, pipeline: UUID) -> list[tuple[str, str, int]]:
    """The pipeline's stages in their place (id, name, place), those since removed included."""
    rows = cur.execute(
        f"SELECT p.stage_id, p.name, p.place FROM ({PLACES}) AS p WHERE p.stage_id IN "
        "(SELECT stage_id FROM pipeline_stage_history WHERE pipeline_id = ?) ORDER BY p.place, p.stage_id",
        [str(pipeline)],
    ).fetchall()
    return [(str(stage_id), name, place) for stage_id, name, place in rows]


def _group(group: dict[str, Any], stages: list[tuple[str, str, int]]) -> dict[str, Any]:
    rows = []
    for stage_id, name, _ in stages:
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
