"""The forecast (F32) and progress against quotas (F26).

The open deals as of T (default now), each weighted by the win probability its stage had
then, added up by expected close month and by segment, and listed Gold first; then, per
rep, the quotas for periods overlapping [from, to), the amount won in [from, to), and
progress = won ÷ quota. Amounts never add across currencies.

- **Segment**: a deal's segment is its company's as of T (queries/segments.py): the
  best-ranked tag of the `potential` category carried as of T by a contact who was at the
  company as of T; no company or no such tag: null. Read from the history tables, so a
  contact tagged Gold later does not make an older forecast Gold.
- **Won**: a deal counts in the month it was won (its `won` version's business time, in
  [from, to) and by T) unless it had been reopened by T; for the rep who owned it then,
  in its amount and currency then.
- **Quotas**: the one in force as of T for each period (the latest set by then) — a
  period of days [period_start, period_end), overlapping the days of [from, to) in the
  offsets those are given in.
- ``known_at``: only what had been recorded by then, in every part.
- ``pipeline`` narrows the open deals; progress counts wins in every pipeline (a quota is
  the rep's whole target).

The SQL runs unchanged on PostgreSQL, as the other reports' does.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.queries.analytics.period import GROUPINGS, Period, grouping, text
from crm_es.queries.analytics.stays import transitions_sql
from crm_es.queries.names import REPS, TEAMS, key_names, names, with_names
from crm_es.queries.past import Past
from crm_es.queries.segments import company_segments
from crm_es.queries.sql import jsonable
from crm_es.queries.visibility import EVERYONE, Visibility

NO_DATE = "no date"
MAX_ITEMS = 10_000

# What the forecast can be grouped by, over an open deal (``owner_id``: its owner then;
# their team: the one they are in now, as in the other reports).
FORECAST_GROUPINGS = {"rep": "owner_id", "team": GROUPINGS["team"], "segment": "segment"}

OPEN_DEALS = """
SELECT d.deal_id, d.title, d.pipeline_id, d.stage_id, s.name AS stage, s.probability, d.amount, d.currency,
       d.amount * s.probability AS weighted_amount, d.owner_id, d.company_id, d.expected_close,
       g.segment, g.segment_rank
FROM deal_history AS d
LEFT JOIN pipeline_stage_history AS s ON s.stage_id = d.stage_id AND ({stage_holds})
LEFT JOIN ({segments}) AS g ON g.company_id = d.company_id
WHERE ({deal_holds}) AND d.status = 'open' AND (CAST(? AS UUID) IS NULL OR d.pipeline_id = ?)
"""

QUOTAS = """
SELECT q.rep_id, q.period_start, q.period_end, q.amount, q.currency, q.set_at FROM (
    SELECT DISTINCT ON (rep_id, period_start, period_end) * FROM quotas
    WHERE set_at <= ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR recorded_at <= ?)
    ORDER BY rep_id, period_start, period_end, set_at DESC, position DESC
) AS q
WHERE q.period_start < ? AND q.period_end > ? AND {reach}
ORDER BY q.rep_id, q.period_start, q.period_end
"""

WON = """
SELECT w.owner_id AS rep_id, w.currency, count(*) AS deals, sum(w.amount) AS amount
FROM (SELECT x.*, lead(x.moved_at) OVER (PARTITION BY x.deal_id ORDER BY x.version) AS undone_at
      FROM {transitions} AS x) AS w
WHERE w.status = 'won' AND w.moved_at >= ? AND w.moved_at < ? AND w.moved_at <= ?
  AND (w.undone_at IS NULL OR w.undone_at > ?) AND w.owner_id IS NOT NULL AND {reach}
GROUP BY w.owner_id, w.currency
"""


def forecast(cur: duckdb.DuckDBPyConnection, period: Period, now: datetime, pipeline: UUID | None = None,
             by: str | None = None, visible: Visibility = EVERYONE) -> dict[str, Any]:
    """``now``: T when neither ``as_of`` nor ``known_at`` is given. ``visible``: whose deals
    and quotas count (a manager's: their team's, deals by their owner then)."""
    past = Past.of(period.as_of, period.known_at) or Past(now)
    deals, params = _open_deals(past, pipeline, visible)
    key = grouping(by, FORECAST_GROUPINGS)
    totals = _dicts(cur, f"SELECT {key} AS key, date_trunc('month', f.expected_close) AS month, f.segment, "
                         "f.segment_rank, f.currency, count(*) AS deals, sum(f.amount) AS amount, "
                         f"sum(f.weighted_amount) AS weighted FROM ({deals}) AS f GROUP BY 1, 2, 3, 4, 5", params)
    listed = _dicts(cur, f"SELECT * FROM ({deals}) AS f ORDER BY f.segment_rank NULLS LAST, "
                         "f.weighted_amount DESC NULLS LAST, f.expected_close NULLS LAST, f.deal_id LIMIT ?",
                    [*params, MAX_ITEMS + 1])
    keys = {row["key"] for row in totals} or ({None} if by is None else set())
    return {
        **period.body(), **past.body(), "pipeline_id": text(pipeline), "by": by,
        "groups": key_names(cur, [_group(k, [r for r in totals if r["key"] == k]) for k in sorted(keys, key=_last_if_none)], by),
        "deals": with_names(cur, [_deal(row) for row in listed[:MAX_ITEMS]], "owner_id", "owner_name", REPS),
        "truncated": len(listed) > MAX_ITEMS,
        "reps": _progress(cur, period, past, visible),
    }



def _open_deals(past: Past, pipeline: UUID | None, visible: Visibility) -> tuple[str, list[Any]]:
    stage_holds, stage_params = past.holds("s")
    segments, segment_params = company_segments(past)
    deal_holds, deal_params = past.holds("d")
    sql = OPEN_DEALS.format(stage_holds=stage_holds, segments=segments, deal_holds=deal_holds)
    pipe = text(pipeline)
    params = [*stage_params, *segment_params, *deal_params, pipe, pipe]
    reach = visible.clause("d.owner_id")
    if reach is not None:
        sql += f" AND {reach[0]}"
        params += reach[1]
    return sql, params


def _progress(cur: duckdb.DuckDBPyConnection, period: Period, past: Past, visible: Visibility) -> list[dict[str, Any]]:
    first_day, after_last_day = _days(period.start, period.end)
    reach, reach_params = visible.clause("q.rep_id") or ("true", [])
    quotas = _dicts(cur, QUOTAS.format(reach=reach),
                    [past.as_of, past.known_at, past.known_at, after_last_day, first_day, *reach_params])
    transitions, params = transitions_sql(past.known_at)
    reach, reach_params = visible.clause("w.owner_id") or ("true", [])
    won = _dicts(cur, WON.format(transitions=transitions, reach=reach),
                 [*params, period.start, period.end, past.as_of, past.as_of, *reach_params])
    reps = sorted({str(r["rep_id"]) for r in (*quotas, *won)})
    teams = dict(cur.execute("SELECT CAST(id AS VARCHAR), CAST(team_id AS VARCHAR) FROM reps").fetchall()) if reps else {}
    answers = [_rep(rep, teams.get(rep), [q for q in quotas if str(q["rep_id"]) == rep],
                    [w for w in won if str(w["rep_id"]) == rep]) for rep in reps]
    rep_names, team_names = names(cur, REPS, reps), names(cur, TEAMS, teams.values())
    return [{"rep_id": a["rep_id"], "rep_name": rep_names.get(a["rep_id"]), "team_id": a["team_id"],
             "team_name": None if a["team_id"] is None else team_names.get(a["team_id"]), **a} for a in answers]


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The days [first, after the last) that [start, end) touches, in their own offsets."""
    after_last = end.date() if end.time() == time(0) else end.date() + timedelta(days=1)
    return start.date(), after_last


def _rep(rep: str, team: str | None, quotas: list[dict[str, Any]], won: list[dict[str, Any]]) -> dict[str, Any]:
    targets: dict[str, Decimal] = {}
    for q in quotas:
        targets[q["currency"]] = targets.get(q["currency"], Decimal(0)) + q["amount"]
    wins = {w["currency"]: w for w in won}
    progress = []
    for currency in sorted({*targets, *wins}):
        target, amount = targets.get(currency), wins[currency]["amount"] if currency in wins else Decimal(0)
        progress.append({
            "currency": currency, "quota": None if target is None else money_text(target, currency),
            "won": money_text(amount, currency),
            "won_deals": wins[currency]["deals"] if currency in wins else 0,
            "progress": None if target is None else float(round(amount / target, 4)),
        })
    return {
        "rep_id": rep, "team_id": team,
        "quotas": [{"period_start": q["period_start"].isoformat(), "period_end": q["period_end"].isoformat(),
                    "amount": money_text(q["amount"], q["currency"]), "currency": q["currency"],
                    "set_at": q["set_at"].isoformat()}
                   for q in quotas],
        "progress": progress,
    }


def _group(key: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    months: dict[str, list[dict[str, Any]]] = {}
    segments: dict[tuple[int | None, str | None], list[dict[str, Any]]] = {}
    for row in rows:
        months.setdefault(NO_DATE if row["month"] is None else row["month"].strftime("%Y-%m"), []).append(row)
        segments.setdefault((row["segment_rank"], row["segment"]), []).append(row)
    return {
        "key": text(key), **_sums(rows),
        "months": [{"month": month, **_sums(months[month])} for month in sorted(months, key=lambda m: (m == NO_DATE, m))],
        "segments": [{"segment": segment, **_sums(segments[(rank, segment)])}
                     for rank, segment in sorted(segments, key=lambda s: (s[0] is None, s[0] or 0, s[1] or ""))],
    }


def _sums(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How many deals, and their amount and weighted amount per currency."""
    amounts: dict[str, list[Decimal]] = {}
    for row in rows:
        total = amounts.setdefault(row["currency"], [Decimal(0), Decimal(0)])
        total[0] += row["amount"]
        total[1] += row["weighted"] or 0
    return {"count": sum(row["deals"] for row in rows),
            "amounts": [{"currency": c, "amount": money_text(a, c), "weighted_amount": money_text(w, c)}
                        for c, (a, w) in sorted(amounts.items())]}


def _deal(row: dict[str, Any]) -> dict[str, Any]:
    weighted = row["weighted_amount"]
    item = {name: jsonable(row[name]) for name in ("deal_id", "title", "pipeline_id", "stage_id", "stage", "probability",
                                                   "amount", "currency", "owner_id", "company_id", "expected_close",
                                                   "segment")}
    item["amount"] = money_text(row["amount"], row["currency"])
    item["weighted_amount"] = None if weighted is None else money_text(weighted, row["currency"])
    item["month"] = NO_DATE if row["expected_close"] is None else row["expected_close"].strftime("%Y-%m")
    return item


def _dicts(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _last_if_none(value: Any) -> tuple[bool, str]:
    return value is None, str(value)
