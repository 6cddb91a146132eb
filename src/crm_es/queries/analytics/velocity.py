"""Velocity (F28): how long deals stay in each stage and take to close, the average won
amount, the win rate, and the classic sales-velocity figure:
deals opened × win rate × average won amount ÷ average days to close (won deals), per day.

Counted over the period's business time: stays that ended in it, deals closed in it
(won or lost), deals opened in it (once each, by their first stay). Amounts never add across
currencies: the amount figures are per currency, exact decimals shown at its scale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.queries.analytics.funnel import stages_of
from crm_es.queries.analytics.period import Period, grouping, ratio
from crm_es.queries.analytics.stays import stays_sql
from crm_es.queries.names import key_names
from crm_es.queries.visibility import EVERYONE, Visibility

DAYS = "(extract(epoch FROM {end}) - extract(epoch FROM {start})) / 86400.0"
MONEY = "DECIMAL(38, 4)"  # a sum of amounts, exact (never averaged as a float)


def _median(x: str) -> str:
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {x})"


def velocity(cur: duckdb.DuckDBPyConnection, pipeline: UUID, period: Period, by: str | None = None,
             visible: Visibility = EVERYONE) -> dict[str, Any]:
    stays, params = stays_sql(period.known_at, visible, pipeline)
    in_stage = DAYS.format(start="entered_at", end="left_at")
    to_close = DAYS.format(start="opened_at", end="left_at")
    # One statement: the stays are worked out once (MATERIALIZED), then four sums over them,
    # each a part of the answer (columns n1, n2, x1, x2, m mean what each part says).
    sql = (
        f"WITH here AS MATERIALIZED (SELECT *, CAST({grouping(by)} AS VARCHAR) AS key FROM {stays} AS s "
        "WHERE pipeline_id = ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR entered_at <= ?)), "
        "ended AS (SELECT * FROM here WHERE next_status IS NOT NULL AND left_at >= ? AND left_at < ? "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR left_at <= ?)) "
        f"SELECT 'stage' AS part, key, CAST(stage_id AS VARCHAR) AS item, count(*) AS n1, 0 AS n2, "
        f"avg({in_stage}) AS x1, {_median(in_stage)} AS x2, CAST(NULL AS {MONEY}) AS m FROM ended GROUP BY key, stage_id "
        "UNION ALL SELECT 'closed', key, NULL, count(*) FILTER (WHERE next_status = 'won'), "
        "count(*) FILTER (WHERE next_status = 'lost'), "
        f"avg({to_close}) FILTER (WHERE next_status = 'won'), {_median(to_close)} FILTER (WHERE next_status = 'won'), "
        f"CAST(NULL AS {MONEY}) "
        "FROM ended WHERE next_status IN ('won', 'lost') GROUP BY key "
        f"UNION ALL SELECT 'amount', key, next_currency, count(*), 0, NULL, NULL, CAST(sum(next_amount) AS {MONEY}) "
        "FROM ended WHERE next_status = 'won' GROUP BY key, next_currency "
        f"UNION ALL SELECT 'opened', key, NULL, count(*), 0, NULL, NULL, CAST(NULL AS {MONEY}) FROM here "
        "WHERE opening AND entered_at >= ? AND entered_at < ? GROUP BY key"
    )
    rows = cur.execute(sql, [*params, str(pipeline), period.as_of, period.as_of, period.start, period.end, period.as_of,
                             period.as_of, period.start, period.end]).fetchall()
    parts: dict[str, list[tuple[Any, ...]]] = {"stage": [], "closed": [], "amount": [], "opened": []}
    for part, *rest in rows:
        parts[part].append(tuple(rest))
    keys = {r[1] for r in rows} or ({None} if by is None else set())
    stages = stages_of(cur, pipeline)
    groups = key_names(cur, [_group(k, stages, parts) for k in sorted(keys, key=lambda k: (k is None, str(k)))], by)
    return {"pipeline_id": str(pipeline), **period.body(), "by": by, "groups": groups}


def _days(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _group(key: str | None, stages: list[tuple[str, str, int]], parts: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """One group's figures from the rows of each part: (key, item, n1, n2, x1, x2, m)."""
    per_stage = {item: (n, mean, median) for k, item, n, _, mean, median, _ in parts["stage"] if k == key}
    _, _, won, lost, cycle, median_cycle, _ = next((r for r in parts["closed"] if r[0] == key),
                                                   (key, None, 0, 0, None, None, None))
    n_opened = next((r[2] for r in parts["opened"] if r[0] == key), 0)
    win_rate = ratio(won, won + lost)
    money = []
    for _, currency, n, _, _, _, total in sorted((r for r in parts["amount"] if r[0] == key), key=lambda r: r[1]):
        average = Decimal(total) / n
        # Opened × win rate × average won amount ÷ average days to close, in exact decimals
        # (the win rate unrounded); none when the won deals closed at the instant they opened.
        per_day = None if not cycle else n_opened * Decimal(won) * average / (Decimal(won + lost) * Decimal(str(cycle)))
        money.append({"currency": currency, "won": n, "average_won_amount": money_text(average, currency),
                      "sales_velocity_per_day": None if per_day is None else money_text(per_day, currency)})
    return {
        "key": key,
        "stages": [{"stage_id": stage_id, "name": name, "stays": per_stage.get(stage_id, (0,))[0],
                    "average_days": _days(per_stage.get(stage_id, (0, None))[1]),
                    "median_days": _days(per_stage.get(stage_id, (0, None, None))[2])} for stage_id, name, _ in stages],
        "opened": n_opened, "won": won, "lost": lost, "win_rate": win_rate,
        "average_days_to_close": _days(cycle), "median_days_to_close": _days(median_cycle),
        "amounts": money,
    }
