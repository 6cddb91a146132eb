"""The pipeline board: stages in order, their open deals, counts and (weighted) amounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb

from crm_es.queries.sql import fetch
from crm_es.queries.visibility import EVERYONE, Visibility


def board_currency(cur: duckdb.DuckDBPyConnection, pipeline_id: UUID) -> str | None:
    """The currency most of the pipeline's open deals are in: the board sums in it."""
    row = cur.execute(
        "SELECT currency FROM deals WHERE pipeline_id = ? AND status = 'open' GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1",
        [str(pipeline_id)],
    ).fetchone()
    return row[0] if row else None


def get_board(
    cur: duckdb.DuckDBPyConnection,
    pipeline_id: UUID,
    *,
    owner: UUID | None = None,
    team: UUID | None = None,
    currency: str | None = None,
    visible: Visibility = EVERYONE,
) -> list[dict[str, Any]]:
    """Stages with their open deals. ``amount`` and ``weighted_amount`` add up the deals
    in ``currency`` (no exchange rates exist here); ``totals`` gives every currency."""
    filters, params = ["d.status = 'open'"], []
    if owner is not None:
        filters.append("d.owner_id = ?")
        params.append(str(owner))
    if team is not None:
        filters.append("d.owner_id IN (SELECT id FROM reps WHERE team_id = ?)")
        params.append(str(team))
    in_reach = visible.clause("d.owner_id")
    if in_reach is not None:
        filters.append(in_reach[0])
        params.extend(in_reach[1])
    stages = fetch(
        cur,
        "SELECT stage_id, name, probability FROM pipeline_stages WHERE pipeline_id = ? ORDER BY sort_order",
        [str(pipeline_id)],
    )
    deals = fetch(
        cur,
        f"SELECT d.id, d.title, d.amount, d.currency, d.owner_id, d.stage_id, d.stage_entered_at FROM deals d "
        f"WHERE d.pipeline_id = ? AND {' AND '.join(filters)} ORDER BY d.stage_entered_at, d.id",
        [str(pipeline_id), *params],
    )
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for deal in deals:
        by_stage.setdefault(deal.pop("stage_id"), []).append(deal)
    return [_stage(stage, by_stage.get(stage["stage_id"], []), currency) for stage in stages]


def _stage(stage: dict[str, Any], deals: list[dict[str, Any]], currency: str | None) -> dict[str, Any]:
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
        "amount": str(amount),
        "weighted_amount": str((amount * probability).quantize(Decimal("0.01"))),
        "totals": [
            {"currency": c, "amount": str(t), "weighted_amount": str((t * probability).quantize(Decimal("0.01")))}
            for c, t in sorted(totals.items())
        ],
        "deals": deals,
    }
