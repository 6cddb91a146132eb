"""What moved between two dates: deals that entered a pipeline, advanced, slipped back,
were won, lost or reopened, each with its amount then (F26 reports, the manager's week)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.queries.analytics.period import Period, text
from crm_es.queries.analytics.stays import PLACES, transitions_sql
from crm_es.queries.names import REPS, with_names
from crm_es.queries.sql import jsonable
from crm_es.queries.visibility import EVERYONE, Visibility

KINDS = ("entered", "advanced", "slipped_back", "won", "lost", "reopened")
MAX_ITEMS = 10_000

# What an item shows; a deal's transitions at one instant (opened and moved by an import)
# keep their order by the deal's version.
ITEM = ("deal_id", "title", "kind", "pipeline_id", "from_stage", "to_stage", "occurred_at", "amount", "currency", "owner_id")

KIND = """CASE WHEN t.prev_status IS NULL THEN 'entered'
     WHEN t.status IN ('won', 'lost') THEN t.status
     WHEN t.prev_status <> 'open' THEN 'reopened'
     WHEN p.place > f.place THEN 'advanced' ELSE 'slipped_back' END"""


def movements(cur: duckdb.DuckDBPyConnection, period: Period, pipeline: UUID | None = None,
              visible: Visibility = EVERYONE) -> dict[str, Any]:
    transitions, params = transitions_sql(period.known_at, visible, pipeline)
    pipe = text(pipeline)
    moved = (
        f"SELECT t.deal_id, t.title, {KIND} AS kind, t.pipeline_id, f.name AS from_stage, p.name AS to_stage, "
        "t.moved_at AS occurred_at, t.amount, t.currency, t.owner_id, t.version "
        f"FROM {transitions} AS t JOIN ({PLACES}) AS p ON p.stage_id = t.stage_id "
        f"LEFT JOIN ({PLACES}) AS f ON f.stage_id = t.prev_stage "
        "WHERE t.moved_at >= ? AND t.moved_at < ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR t.moved_at <= ?)"
    )
    moved_params = [*params, period.start, period.end, period.as_of, period.as_of]
    rows = cur.execute(f"SELECT {', '.join(ITEM)} FROM ({moved}) AS m ORDER BY occurred_at, deal_id, version LIMIT ?",
                       [*moved_params, MAX_ITEMS + 1]).fetchall()
    items = [{n: jsonable(v) for n, v in zip(ITEM, row, strict=True)} for row in rows]
    for item in items:
        item["amount"] = money_text(item["amount"], item["currency"])
    totals = cur.execute(f"SELECT kind, currency, count(*), sum(amount) FROM ({moved}) AS m GROUP BY kind, currency "
                         "ORDER BY kind, currency",
                         moved_params).fetchall()
    summary = []
    for kind in KINDS:
        mine = [t for t in totals if t[0] == kind]
        summary.append({"kind": kind, "count": sum(t[2] for t in mine),
                        "amounts": [{"currency": t[1], "amount": money_text(t[3], t[1])} for t in mine]})
    items = with_names(cur, items, "owner_id", "owner_name", REPS)
    return {**period.body(), "pipeline_id": pipe, "summary": summary, "items": items[:MAX_ITEMS],
            "truncated": len(items) > MAX_ITEMS}
