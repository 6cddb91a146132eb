"""Velocity (F28): how long deals stay in each stage and take to close, the average won
amount, the win rate, and the classic sales-velocity figure:
deals opened × win rate × average won amount ÷ average days to close (won deals), per day.

Counted over the period's business time: stays that ended in it, deals closed in it
(won or lost), deals opened in it. Amounts never add across currencies: the amount
figures are per currency."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from crm_es.queries.analytics.funnel import stages_of
from crm_es.queries.analytics.period import Period, grouping, ratio, text
from crm_es.queries.analytics.stays import stays_sql
from crm_es.queries.visibility import EVERYONE, Visibility

DAYS = "(epoch({end}) - epoch({start})) / 86400.0"


def velocity(cur: duckdb.DuckDBPyConnection, pipeline: UUID, period: Period, by: str | None = None,
             visible: Visibility = EVERYONE) -> dict[str, Any]:
    stays, params = stays_sql(period.known_at, visible)
    key = grouping(by)
    base = (f"WITH here AS (SELECT *, {key} AS key FROM {stays} AS s WHERE pipeline_id = ? "
            "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR entered_at <= ?)) ")
    head = [*params, str(pipeline), period.as_of, period.as_of]
    ended = "left_at >= ? AND left_at < ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR left_at <= ?)"
    window = [period.start, period.end, period.as_of, period.as_of]
    in_stage = DAYS.format(start="entered_at", end="left_at")
    to_close = DAYS.format(start="opened_at", end="left_at")
    per_stage = _dicts(cur, base + f"SELECT key, stage_id, count(*) AS stays, avg({in_stage}) AS average_days, "
                       f"median({in_stage}) AS median_days FROM here WHERE outcome IS NOT NULL AND {ended} GROUP BY ALL",
                       [*head, *window])
    closed = _dicts(cur, base + "SELECT key, count(*) FILTER (WHERE outcome = 'won') AS won, "
                    "count(*) FILTER (WHERE outcome = 'lost') AS lost, "
                    f"avg({to_close}) FILTER (WHERE outcome = 'won') AS average_days_to_close, "
                    f"median({to_close}) FILTER (WHERE outcome = 'won') AS median_days_to_close "
                    f"FROM here WHERE outcome IN ('won', 'lost') AND {ended} GROUP BY ALL", [*head, *window])
    amounts = _dicts(cur, base + "SELECT key, next_currency AS currency, count(*) AS won, avg(next_amount) AS average_won_amount "
                     f"FROM here WHERE outcome = 'won' AND {ended} GROUP BY ALL", [*head, *window])
    opened = _dicts(cur, base + "SELECT key, count(DISTINCT deal_id) AS opened FROM here "
                    "WHERE entered_at = opened_at AND entered_at >= ? AND entered_at < ? GROUP BY ALL",
                    [*head, period.start, period.end])
    keys = {r["key"] for r in (*per_stage, *closed, *amounts, *opened)} or ({None} if by is None else set())
    stages = stages_of(cur, pipeline)
    groups = [_group(k, stages, per_stage, closed, amounts, opened) for k in sorted(keys, key=lambda k: (k is None, str(k)))]
    return {"pipeline_id": str(pipeline), **period.body(), "by": by, "groups": groups}


def _dicts(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _group(key: Any, stages: list[tuple[str, str]], per_stage: list[dict[str, Any]], closed: list[dict[str, Any]],
           amounts: list[dict[str, Any]], opened: list[dict[str, Any]]) -> dict[str, Any]:
    mine = {str(r["stage_id"]): r for r in per_stage if r["key"] == key}
    close = next((r for r in closed if r["key"] == key), {})
    n_opened = next((r["opened"] for r in opened if r["key"] == key), 0)
    won, lost = close.get("won", 0), close.get("lost", 0)
    win_rate = ratio(won, won + lost)
    cycle = close.get("average_days_to_close")
    money = []
    for r in sorted((r for r in amounts if r["key"] == key), key=lambda r: r["currency"]):
        average = r["average_won_amount"]
        per_day = None if not cycle or win_rate is None else n_opened * win_rate * float(average) / cycle
        money.append({"currency": r["currency"], "won": r["won"], "average_won_amount": f"{average:.2f}",
                      "sales_velocity_per_day": None if per_day is None else round(per_day, 2)})
    return {
        "key": text(key),
        "stages": [{"stage_id": stage_id, "name": name, "stays": mine.get(stage_id, {}).get("stays", 0),
                    "average_days": _days(mine.get(stage_id, {}).get("average_days")),
                    "median_days": _days(mine.get(stage_id, {}).get("median_days"))} for stage_id, name in stages],
        "opened": n_opened, "won": won, "lost": lost, "win_rate": win_rate,
        "average_days_to_close": _days(cycle), "median_days_to_close": _days(close.get("median_days_to_close")),
        "amounts": money,
    }
