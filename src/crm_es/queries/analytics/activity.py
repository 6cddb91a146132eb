"""The reps' activity in a period (F26, and the figures of F35's reports): calls made and
received, e-mails sent and received, meetings held and missed, deals closed won and lost
(with the revenue won, per currency), tasks done.

Each figure counts for its rep: an interaction's ``rep_id``, a deal's owner when it
closed, a task's owner. Interactions count at their business time (``occurred_at``) and
from when they were recorded (``known_at``: a call logged late is not known before).
Tasks done count at ``done_at``, known from ``done_recorded_at``."""

from __future__ import annotations

from typing import Any

import duckdb

from crm_es.aggregates.base import InvalidInput
from crm_es.aggregates.money import money_text
from crm_es.queries.analytics.period import Period, grouping, text
from crm_es.queries.analytics.sources import CLOSES, dicts, happened, in_order
from crm_es.queries.names import key_names
from crm_es.queries.visibility import EVERYONE, Visibility

# Each figure of the interactions, and the rows it counts.
INTERACTIONS = {
    "calls_made": "type = 'call' AND direction = 'outbound'",
    "calls_received": "type = 'call' AND direction = 'inbound'",
    "emails_sent": "type = 'email_sent'",
    "emails_received": "type = 'email_received'",
    "meetings_held": "type = 'meeting_held'",
    "meetings_missed": "type = 'meeting_missed'",
}

# The interactions' rep is their ``rep_id``: named owner_id, as groupings and reach expect.
BY_REP = "SELECT *, rep_id AS owner_id FROM interactions WHERE {known}"


def by_rep_or_team(by: str | None) -> str:
    """The grouping of a report made of reps' figures: one group per rep or per team (now)."""
    if by not in (None, "rep", "team"):
        raise InvalidInput("by", "`by` is rep or team")
    return grouping(by)


def activity(cur: duckdb.DuckDBPyConnection, period: Period, by: str | None = None,
             visible: Visibility = EVERYONE) -> dict[str, Any]:
    """``visible``: whose figures count (a manager's: their team's reps)."""
    key = by_rep_or_team(by)
    interactions, params = happened(BY_REP, "occurred_at", period, visible)
    counts = ", ".join(f"count(*) FILTER (WHERE {where}) AS {name}" for name, where in INTERACTIONS.items())
    touched = dicts(cur, f"SELECT {key} AS key, {counts} FROM {interactions} AS i GROUP BY ALL", params)
    closes, close_params = happened(CLOSES, "closed_at", period, visible)
    closed = dicts(cur, f"SELECT {key} AS key, status, currency, count(*) AS deals, sum(amount) AS amount "
                   f"FROM {closes} AS c GROUP BY ALL ORDER BY currency", close_params)
    done = _tasks_done(cur, period, key, visible)
    keys = {r["key"] for r in (*touched, *closed, *done)} or ({None} if by is None else set())
    groups = [_group(k, touched, closed, done) for k in in_order(keys)]
    return {**period.body(), "by": by, "groups": key_names(cur, groups, by)}


DONE = "SELECT * FROM (SELECT *, done_recorded_at AS recorded_at FROM tasks WHERE status = 'done') AS t WHERE {known}"


def _tasks_done(cur: duckdb.DuckDBPyConnection, period: Period, key: str, visible: Visibility) -> list[dict[str, Any]]:
    tasks, params = happened(DONE, "done_at", period, visible)
    return dicts(cur, f"SELECT {key} AS key, count(*) AS done FROM {tasks} AS t GROUP BY ALL", params)


def _group(key: Any, touched: list[dict[str, Any]], closed: list[dict[str, Any]], done: list[dict[str, Any]]) -> dict[str, Any]:
    counts = next((r for r in touched if r["key"] == key), {})
    mine = [r for r in closed if r["key"] == key]
    won = [r for r in mine if r["status"] == "won"]
    return {
        "key": text(key),
        **{name: counts.get(name, 0) for name in INTERACTIONS},
        "deals_won": sum(r["deals"] for r in won),
        "deals_lost": sum(r["deals"] for r in mine if r["status"] == "lost"),
        "won_revenue": [{"currency": r["currency"], "deals": r["deals"], "amount": money_text(r["amount"], r["currency"])}
                        for r in won],
        "tasks_done": next((r["done"] for r in done if r["key"] == key), 0),
    }
