"""Which channels work (F29): per source, the leads registered in the period, the deals
opened in it, the deals won in it and their revenue (per currency), and how many of the
period's leads became a deal.

The facts the activity and KPI reports count too are defined here, each from the
history tables so that ``as_of`` / ``known_at`` hold:

- a *lead* is a contact's first version in ``contact_history`` (its registration), with
  the source and owner it was registered with;
- an *opening* is a deal's first version in ``deal_history``;
- a *close* is a version of ``deal_history`` where the deal became won or lost (a deal
  reopened and won again is won twice), with its owner, amount and company then;
- a lead *became a deal* when it is among the contacts of a deal opened by ``as_of``
  (known at ``known_at``). The deal's contacts are those it names now: ``deal_history``
  keeps no contacts, so a contact taken off a deal no longer counts for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.queries.analytics.period import Period, ratio
from crm_es.queries.visibility import EVERYONE, Visibility

LEADS = """
SELECT contact_id, owner_id, source, valid_from AS registered_at FROM contact_history WHERE {known}
QUALIFY row_number() OVER (PARTITION BY contact_id ORDER BY version) = 1
"""

OPENINGS = """
SELECT deal_id, owner_id, source, amount, currency, valid_from AS opened_at FROM deal_history WHERE {known}
QUALIFY row_number() OVER (PARTITION BY deal_id ORDER BY version) = 1
"""

CLOSES = """
SELECT c.deal_id, c.status, c.owner_id, c.source, c.company_id, c.amount, c.currency, c.closed_at, d.contact_ids
FROM (
    SELECT *, valid_from AS closed_at, lag(status) OVER (PARTITION BY deal_id ORDER BY version) AS prev_status
    FROM deal_history WHERE {known}
) AS c LEFT JOIN deals AS d ON d.id = c.deal_id
WHERE c.status IN ('won', 'lost') AND c.status IS DISTINCT FROM c.prev_status
"""


def known(known_at: datetime | None) -> tuple[str, list[Any]]:
    """Only the rows recorded by ``known_at`` (every row when it is not given)."""
    return ("recorded_at <= ?", [known_at]) if known_at is not None else ("true", [])


def every(template: str, known_at: datetime | None) -> tuple[str, list[Any]]:
    """All the facts of ``template`` known at ``known_at``, as a subquery."""
    where, params = known(known_at)
    return f"({template.format(known=where)})", params


def happened(template: str, at: str, period: Period, visible: Visibility = EVERYONE) -> tuple[str, list[Any]]:
    """The facts of ``template`` (an SQL with a ``{known}`` slot and an ``owner_id``) whose
    time ``at`` falls in the period and had come by ``as_of``, known at ``known_at``,
    owned by someone in the reader's reach: a subquery and its parameters."""
    facts, params = every(template, period.known_at)
    where = f"{at} >= ? AND {at} < ? AND (CAST(? AS TIMESTAMPTZ) IS NULL OR {at} <= ?)"
    params = [*params, period.start, period.end, period.as_of, period.as_of]
    reach = visible.clause("owner_id")
    if reach is not None:
        where, params = f"{where} AND {reach[0]}", [*params, *reach[1]]
    return f"(SELECT * FROM {facts} AS f WHERE {where})", params


def became_deal(period: Period) -> tuple[str, list[Any]]:
    """The contacts that became a deal (the rule above), as a one-column subquery."""
    openings, params = every(OPENINGS, period.known_at)
    sql = (f"(SELECT DISTINCT unnest(d.contact_ids) AS contact_id FROM deals AS d "
           f"JOIN {openings} AS o ON o.deal_id = d.id WHERE CAST(? AS TIMESTAMPTZ) IS NULL OR o.opened_at <= ?)")
    return sql, [*params, period.as_of, period.as_of]


def dicts(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def in_order(keys: set[Any]) -> list[Any]:
    """Groups by name, the group of none (no source, no rep) last."""
    return sorted(keys, key=lambda k: (k is None, str(k)))


def sources(cur: duckdb.DuckDBPyConnection, period: Period, visible: Visibility = EVERYONE) -> dict[str, Any]:
    """``visible``: whose leads and deals count (a manager's: their team's, by the owner then)."""
    leads, lead_params = happened(LEADS, "registered_at", period, visible)
    converted, converted_params = became_deal(period)
    lead_rows = dicts(cur, f"SELECT source, count(*) AS leads, count(*) FILTER (WHERE contact_id IN {converted}) "
                      f"AS converted FROM {leads} GROUP BY ALL", [*converted_params, *lead_params])
    openings, opening_params = happened(OPENINGS, "opened_at", period, visible)
    opened = dicts(cur, f"SELECT source, count(*) AS opened FROM {openings} GROUP BY ALL", opening_params)
    closes, close_params = happened(CLOSES, "closed_at", period, visible)
    won = dicts(cur, f"SELECT source, currency, count(*) AS won, sum(amount) AS amount FROM {closes} "
                "WHERE status = 'won' GROUP BY ALL ORDER BY currency", close_params)
    rows = []
    for source in in_order({r["source"] for r in (*lead_rows, *opened, *won)}):
        lead = next((r for r in lead_rows if r["source"] == source), {"leads": 0, "converted": 0})
        mine = [r for r in won if r["source"] == source]
        rows.append({
            "source": source, "leads": lead["leads"], "leads_became_deal": lead["converted"],
            "conversion": ratio(lead["converted"], lead["leads"]),
            "deals_opened": next((r["opened"] for r in opened if r["source"] == source), 0),
            "deals_won": sum(r["won"] for r in mine),
            "won_revenue": [{"currency": r["currency"], "deals": r["won"], "amount": money_text(r["amount"], r["currency"])}
                            for r in mine],
        })
    return {**period.body(), "sources": rows}
