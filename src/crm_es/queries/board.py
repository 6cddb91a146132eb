"""The pipeline board: stages in order, their open deals, counts and (weighted) amounts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.queries.past import Past
from crm_es.queries.segments import company_segments
from crm_es.queries.sql import fetch
from crm_es.queries.visibility import EVERYONE, Visibility

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Where the board reads from: the current tables, or the history tables at a past moment
# (the same columns under the same names).
_NOW_DEALS = ("(SELECT id, title, amount, currency, owner_id, stage_id, stage_entered_at, pipeline_id, status, company_id "
              "FROM deals)")
_PAST_DEALS = ("(SELECT deal_id AS id, title, amount, currency, owner_id, stage_id, stage_entered_at, pipeline_id, status, "
               "company_id "
               "FROM deal_history h WHERE {holds})")
_NOW_STAGES = "(SELECT stage_id, pipeline_id, name, probability, sort_order FROM pipeline_stages)"
_PAST_STAGES = ("(SELECT stage_id, pipeline_id, name, probability, sort_order FROM pipeline_stage_history h "
                "WHERE NOT removed AND {holds})")


def _deals(past: Past | None) -> tuple[str, list[Any]]:
    if past is None:
        return _NOW_DEALS, []
    holds, params = past.holds("h")
    return _PAST_DEALS.format(holds=holds), params


def _stages(past: Past | None) -> tuple[str, list[Any]]:
    if past is None:
        return _NOW_STAGES, []
    holds, params = past.holds("h")
    return _PAST_STAGES.format(holds=holds), params


def board_currency(cur: duckdb.DuckDBPyConnection, pipeline_id: UUID, past: Past | None = None) -> str | None:
    """The currency the board sums in by default: the one most of the pipeline's deals are
    in, over its whole history (open or closed, whatever their date), so a board keeps its
    currency from one date to the next, empty or not. A board as known at a past moment
    counts only the deals recorded by then. None: the pipeline never had a deal."""
    if past is None or past.known_at is None:
        deals, params = "(SELECT currency FROM deals WHERE pipeline_id = ?)", [str(pipeline_id)]
    else:
        deals = ("(SELECT DISTINCT ON (deal_id) currency FROM deal_history WHERE pipeline_id = ? AND recorded_at <= ? "
                 "ORDER BY deal_id, version DESC)")
        params = [str(pipeline_id), past.known_at]
    row = cur.execute(f"SELECT currency FROM {deals} GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1",
                      params).fetchone()
    return row[0] if row else None


def get_board(
    cur: duckdb.DuckDBPyConnection,
    pipeline_id: UUID,
    *,
    owner: UUID | None = None,
    team: UUID | None = None,
    segment: str | None = None,
    currency: str | None = None,
    visible: Visibility = EVERYONE,
    past: Past | None = None,
) -> list[dict[str, Any]]:
    """Stages with their open deals, now or at a ``past`` moment (the stages as they were
    then, the deals where they were, their owners then). ``amount`` and ``weighted_amount``
    add up the deals in ``currency`` (no exchange rates exist here); ``totals`` gives
    every currency. ``team``: the reps in the team now. ``segment``: the deals of the
    companies in that segment then (queries/segments.py, as the forecast groups them)."""
    filters, params = ["d.status = 'open'"], []
    if owner is not None:
        filters.append("d.owner_id = ?")
        params.append(str(owner))
    if team is not None:
        filters.append("d.owner_id IN (SELECT id FROM reps WHERE team_id = ?)")
        params.append(str(team))
    if segment is not None:
        segments, segment_params = company_segments(past)
        filters.append(f"d.company_id IN (SELECT g.company_id FROM ({segments}) AS g WHERE g.segment = ?)")
        params.extend([*segment_params, segment])
    in_reach = visible.clause("d.owner_id")
    if in_reach is not None:
        filters.append(in_reach[0])
        params.extend(in_reach[1])
    stage_rows, stage_params = _stages(past)
    stages = fetch(
        cur,
        f"SELECT stage_id, name, probability FROM {stage_rows} AS s WHERE pipeline_id = ? ORDER BY sort_order, stage_id",
        [*stage_params, str(pipeline_id)],
    )
    deal_rows, deal_params = _deals(past)
    # Ids as text and times as microseconds: building a UUID and a zoned datetime in Python
    # for each of a board's thousands of deals took most of its time.
    deals = fetch(
        cur,
        f"SELECT CAST(d.id AS VARCHAR) AS id, d.title, d.amount, d.currency, CAST(d.owner_id AS VARCHAR) AS owner_id, "
        f"CAST(d.stage_id AS VARCHAR) AS stage_id, epoch_us(d.stage_entered_at) AS stage_entered_at FROM {deal_rows} AS d "
        f"WHERE d.pipeline_id = ? AND {' AND '.join(filters)} ORDER BY d.stage_entered_at, d.id",
        [*deal_params, str(pipeline_id), *params],
    )
    for deal in deals:
        deal["stage_entered_at"] = (EPOCH + timedelta(microseconds=deal["stage_entered_at"])).isoformat()
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for deal in deals:
        by_stage.setdefault(deal.pop("stage_id"), []).append(deal)
    return [stage_column(stage, by_stage.get(stage["stage_id"], []), currency) for stage in stages]


def stage_column(stage: dict[str, Any], deals: list[dict[str, Any]], currency: str | None) -> dict[str, Any]:
    """One stage of the board. Money at each currency's scale (aggregates/money.py): ``amount``
    and ``weighted_amount`` add up the deals in ``currency``, the board's (2 places when there
    is none: the pipeline never had a deal); ``totals``, every currency."""
    probability = Decimal(stage["probability"])
    totals: dict[str, Decimal] = {}
    for deal in deals:
        totals[deal["currency"]] = totals.get(deal["currency"], Decimal(0)) + Decimal(deal["amount"])
    amount = totals.get(currency or "", Decimal(0))
    return {
        "stage_id": stage["stage_id"],
        "name": stage["name"],
        "probability": stage["probability"],
        "count": len(deals),
        "amount": money_text(amount, currency),
        "weighted_amount": money_text(amount * probability, currency),
        "totals": [
            {"currency": c, "amount": money_text(t, c), "weighted_amount": money_text(t * probability, c)}
            for c, t in sorted(totals.items())
        ],
        "deals": [{**deal, "amount": money_text(deal["amount"], deal["currency"])} for deal in deals],
    }
