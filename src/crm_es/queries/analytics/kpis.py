"""The KPIs that judge the CRM itself (F31), and retention and renewals per rep (F33).

- **Leads in 100 that became a deal**: of the contacts registered in the period, how many
  are among the contacts of a deal opened by ``as_of`` (sources.py states the rule).
- **Average won amount**, per currency, of the deals won in the period.
- **Growth of the customer base**, month by month: the contacts whose status is
  ``customer`` at the start and at the end of each calendar month of the period (in the
  offset of ``from``; the first and last months cut to the period).
- **Response time**: hours from a lead's registration to the first touch by a rep after
  it (an interaction of a ``RESPONSES`` type with a ``rep_id``); leads not answered by
  ``as_of`` are counted apart.
- **Retention**: the customers at the period's start still customers at its end.
  **Renewals**: deals won in the period for a contact or a company that had another deal
  won before (at any earlier time, whoever owned it).

Per rep (``by=rep``) or team: a lead belongs to its owner when registered, a customer to
its owner at the period's (or month's) start, a won deal to its owner when won. "At a
moment" means just before it (a period is ``[from, to)``), or at ``as_of`` if earlier.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from crm_es.aggregates.base import InvalidInput
from crm_es.aggregates.interactions import TOUCHES
from crm_es.aggregates.money import money_text
from crm_es.queries.analytics.activity import by_rep_or_team
from crm_es.queries.analytics.period import Period, ratio, text
from crm_es.queries.analytics.sources import CLOSES, LEADS, became_deal, dicts, every, happened, in_order, known
from crm_es.queries.names import key_names
from crm_es.queries.visibility import EVERYONE, Visibility

# A rep's answer to a lead: every touch but an e-mail received (that is the lead writing).
RESPONSES = tuple(sorted(TOUCHES - {"email_received"}))
CUSTOMER = "lower(h.status) = 'customer'"
INSTANT = timedelta(microseconds=1)  # DuckDB's resolution
MAX_MONTHS = 240  # the customer base is counted at each month's boundary: twenty years at most


def kpis(cur: duckdb.DuckDBPyConnection, period: Period, by: str | None = None,
         visible: Visibility = EVERYONE) -> dict[str, Any]:
    """``visible``: whose leads, customers and deals count (a manager's: their team's)."""
    key = by_rep_or_team(by)
    months = _months(period)
    figures = {
        "leads": _leads(cur, period, key, visible),
        "won": _won(cur, period, key, visible),
        "base": _customer_base(cur, period, months, key, visible),
        "response": _response(cur, period, key, visible),
        "retention": _retention(cur, period, key, visible),
        "renewals": _renewals(cur, period, key, visible),
    }
    keys = {r["key"] for rows in figures.values() for r in rows} or ({None} if by is None else set())
    return {**period.body(), "by": by, "groups": key_names(cur, [_group(k, figures, months) for k in in_order(keys)], by)}


def _leads(cur: duckdb.DuckDBPyConnection, period: Period, key: str, visible: Visibility) -> list[dict[str, Any]]:
    leads, params = happened(LEADS, "registered_at", period, visible)
    converted, converted_params = became_deal(period)
    return dicts(cur, f"SELECT {key} AS key, count(*) AS leads, count(*) FILTER (WHERE contact_id IN {converted}) "
                 f"AS converted FROM {leads} AS l GROUP BY ALL", [*converted_params, *params])


def _won(cur: duckdb.DuckDBPyConnection, period: Period, key: str, visible: Visibility) -> list[dict[str, Any]]:
    closes, params = happened(CLOSES, "closed_at", period, visible)
    # The sum, exact: the average is worked out in decimals (avg() of a DECIMAL is a float).
    return dicts(cur, f"SELECT {key} AS key, currency, count(*) AS won, sum(amount) AS amount FROM {closes} AS c "
                 "WHERE status = 'won' GROUP BY ALL ORDER BY currency", params)


def _moment(boundary: datetime, period: Period) -> datetime:
    """When "at ``boundary``" is looked at: just before it, or at ``as_of`` if earlier."""
    try:
        before = boundary - INSTANT
    except OverflowError:  # the first moment Python can hold: nothing came before it
        before = boundary
    return before if period.as_of is None or period.as_of >= before else period.as_of


def _months(period: Period) -> list[datetime]:
    """The boundaries of the period's calendar months, in the offset of its start."""
    bounds, at = [period.start], period.start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while True:
        try:
            at = at.replace(year=at.year + 1, month=1) if at.month == 12 else at.replace(month=at.month + 1)
        except ValueError:  # past the year 9999: the period ends before
            return [*bounds, period.end]
        if at >= period.end:
            return [*bounds, period.end]
        if len(bounds) == MAX_MONTHS:
            raise InvalidInput("to", f"the KPIs follow the customer base month by month: {MAX_MONTHS} months at most")
        bounds.append(at)


def _customers_at(moments: list[datetime], known_at: datetime | None, key: str, visible: Visibility,
                  ) -> tuple[str, list[Any]]:
    """The customers at each moment (numbered ``i``), with their owner then."""
    in_force = "h.valid_from <= m.moment AND (h.valid_to IS NULL OR h.valid_to > m.moment"
    if known_at is None:
        holds, params = in_force + ")", []
    else:  # as known then: a version superseded only later still held (Past.holds, per moment)
        holds, params = f"h.recorded_at <= ? AND {in_force} OR h.superseded_at > ?)", [known_at, known_at]
    reach = visible.clause("h.owner_id")
    where, reach_params = (f" AND {reach[0]}", reach[1]) if reach else ("", [])
    sql = (f"(SELECT m.i, h.contact_id, {key} AS key FROM (SELECT unnest(CAST(? AS INTEGER[])) AS i, "
           f"unnest(CAST(? AS TIMESTAMPTZ[])) AS moment) AS m JOIN contact_history AS h ON {holds} "
           f"WHERE {CUSTOMER}{where})")
    return sql, [list(range(len(moments))), moments, *params, *reach_params]


def _customer_base(cur: duckdb.DuckDBPyConnection, period: Period, months: list[datetime], key: str,
                   visible: Visibility) -> list[dict[str, Any]]:
    moments = [_moment(b, period) for b in months]
    customers, params = _customers_at(moments, period.known_at, key, visible)
    return dicts(cur, f"SELECT i, key, count(*) AS customers FROM {customers} GROUP BY ALL", params)


def _response(cur: duckdb.DuckDBPyConnection, period: Period, key: str, visible: Visibility) -> list[dict[str, Any]]:
    leads, params = happened(LEADS, "registered_at", period, visible)
    recorded, recorded_params = known(period.known_at)
    types = ", ".join(f"'{t}'" for t in RESPONSES)
    touches = (f"SELECT * FROM interactions WHERE type IN ({types}) AND rep_id IS NOT NULL AND {recorded} "
               "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR occurred_at <= ?)")
    answered = (f"SELECT l.contact_id, l.owner_id, l.registered_at, min(i.occurred_at) AS answered_at "
                f"FROM {leads} AS l LEFT JOIN ({touches}) AS i "
                "ON i.contact_id = l.contact_id AND i.occurred_at >= l.registered_at GROUP BY ALL")
    hours = "(epoch(answered_at) - epoch(registered_at)) / 3600.0"
    return dicts(cur, f"SELECT {key} AS key, count(answered_at) AS answered, "
                 f"count(*) - count(answered_at) AS unanswered, avg({hours}) AS average_hours, "
                 f"median({hours}) AS median_hours FROM ({answered}) AS a GROUP BY ALL",
                 [*params, *recorded_params, period.as_of, period.as_of])


def _retention(cur: duckdb.DuckDBPyConnection, period: Period, key: str, visible: Visibility) -> list[dict[str, Any]]:
    at_start, params = _customers_at([_moment(period.start, period)], period.known_at, key, visible)
    at_end, end_params = _customers_at([_moment(period.end, period)], period.known_at, "NULL", EVERYONE)
    return dicts(cur, f"SELECT key, count(*) AS customers, count(*) FILTER (WHERE contact_id IN "
                 f"(SELECT contact_id FROM {at_end})) AS retained FROM {at_start} GROUP BY ALL", [*end_params, *params])


def _renewals(cur: duckdb.DuckDBPyConnection, period: Period, key: str, visible: Visibility) -> list[dict[str, Any]]:
    wins, params = happened(CLOSES, "closed_at", period, visible)
    every_win, every_params = every(CLOSES, period.known_at)  # whoever owned it: the customer's history
    # Joined on equal keys (the company; each contact), never on an OR: a hash join, not a loop.
    before = "p.deal_id <> w.deal_id AND p.closed_at < w.closed_at"
    contacts = "SELECT deal_id, closed_at, unnest(contact_ids) AS contact_id FROM"
    sql = (f"WITH w AS (SELECT * FROM {wins} AS f WHERE status = 'won'), "
           f"p AS (SELECT * FROM {every_win} AS f WHERE status = 'won'), "
           f"renewed AS (SELECT w.deal_id, w.closed_at FROM w JOIN p ON p.company_id = w.company_id AND {before} "
           f"UNION SELECT w.deal_id, w.closed_at FROM ({contacts} w) AS w JOIN ({contacts} p) AS p "
           f"ON p.contact_id = w.contact_id AND {before}) "
           f"SELECT {key} AS key, currency, count(*) AS renewals, sum(amount) AS amount FROM w "
           "WHERE EXISTS (SELECT 1 FROM renewed AS r WHERE r.deal_id = w.deal_id AND r.closed_at = w.closed_at) "
           "GROUP BY ALL ORDER BY currency")
    return dicts(cur, sql, [*params, *every_params])


def _group(key: Any, figures: dict[str, list[dict[str, Any]]], months: list[datetime]) -> dict[str, Any]:
    def mine(name: str) -> list[dict[str, Any]]:
        return [r for r in figures[name] if r["key"] == key]

    leads = next(iter(mine("leads")), {"leads": 0, "converted": 0})
    response = next(iter(mine("response")), {})
    retention = next(iter(mine("retention")), {"customers": 0, "retained": 0})
    renewals = mine("renewals")
    return {
        "key": text(key),
        "leads": {"registered": leads["leads"], "became_deal": leads["converted"],
                  "per_100": None if not leads["leads"] else round(100 * leads["converted"] / leads["leads"], 2)},
        "average_won_amount": [{"currency": r["currency"], "won": r["won"],
                                "average": money_text(Decimal(r["amount"]) / r["won"], r["currency"])} for r in mine("won")],
        "customer_base": _base(mine("base"), months),
        "response": {"answered": response.get("answered", 0), "unanswered": response.get("unanswered", 0),
                     "average_hours": _hours(response.get("average_hours")),
                     "median_hours": _hours(response.get("median_hours"))},
        "retention": {"customers_at_start": retention["customers"], "retained": retention["retained"],
                      "rate": ratio(retention["retained"], retention["customers"])},
        "renewals": {"count": sum(r["renewals"] for r in renewals),
                     "amounts": [{"currency": r["currency"], "deals": r["renewals"],
                                  "amount": money_text(r["amount"], r["currency"])} for r in renewals]},
    }


def _base(rows: list[dict[str, Any]], months: list[datetime]) -> list[dict[str, Any]]:
    """Month by month: customers at its start and end, and the growth (0.25: 25 %)."""
    counts = {r["i"]: r["customers"] for r in rows}
    out = []
    for i, (start, end) in enumerate(zip(months, months[1:])):
        before, after = counts.get(i, 0), counts.get(i + 1, 0)
        out.append({"month": start.strftime("%Y-%m"), "from": start.isoformat(), "to": end.isoformat(),
                    "customers_at_start": before, "customers_at_end": after, "growth": ratio(after - before, before)})
    return out


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
