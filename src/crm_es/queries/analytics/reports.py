"""The reports a dashboard can hold: each one's parameters (checked when the dashboard
is saved, as the report's own route checks them) and how it is run when the dashboard is
read, for that reader (``visible``) at that moment (``now``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from crm_es.aggregates.base import NotFound
from crm_es.inputs.fields import Instant
from crm_es.queries import board, records
from crm_es.queries.analytics.activity import activity
from crm_es.queries.analytics.forecast import forecast
from crm_es.queries.analytics.funnel import funnel
from crm_es.queries.analytics.kpis import kpis
from crm_es.queries.analytics.movements import movements
from crm_es.queries.analytics.period import Period
from crm_es.queries.analytics.sources import sources
from crm_es.queries.analytics.velocity import velocity
from crm_es.queries.past import Past
from crm_es.queries.visibility import Visibility


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PeriodParams(Params):
    start: Instant = Field(alias="from")
    to: Instant
    as_of: Instant | None = None
    known_at: Instant | None = None

    def period(self) -> Period:
        return Period(self.start, self.to, self.as_of, self.known_at)


class StagesParams(PeriodParams):
    pipeline: UUID
    by: Literal["rep", "team", "source"] | None = None


class MovementsParams(PeriodParams):
    pipeline: UUID | None = None


class PeopleParams(PeriodParams):
    by: Literal["rep", "team"] | None = None


class ForecastParams(PeriodParams):
    pipeline: UUID | None = None
    by: Literal["rep", "team", "segment"] | None = None


class BoardParams(Params):
    pipeline: UUID
    as_of: Instant | None = None
    known_at: Instant | None = None


def _board(cur: duckdb.DuckDBPyConnection, p: BoardParams, visible: Visibility, _now: datetime) -> dict[str, Any]:
    if records.get_pipeline(cur, p.pipeline) is None:
        raise NotFound("pipeline", p.pipeline, "pipeline")
    past = Past.of(p.as_of, p.known_at)
    currency = board.board_currency(cur, p.pipeline, past)
    return {"pipeline_id": str(p.pipeline), "currency": currency,
            "stages": board.get_board(cur, p.pipeline, currency=currency, visible=visible, past=past)}


@dataclass(frozen=True)
class Report:
    params: type[Params]
    run: Callable[[duckdb.DuckDBPyConnection, Any, Visibility, datetime], dict[str, Any]]


REPORTS: dict[str, Report] = {
    "board": Report(BoardParams, _board),
    "movements": Report(MovementsParams, lambda cur, p, v, _: movements(cur, p.period(), p.pipeline, v)),
    "funnel": Report(StagesParams, lambda cur, p, v, _: funnel(cur, p.pipeline, p.period(), p.by, v)),
    "velocity": Report(StagesParams, lambda cur, p, v, _: velocity(cur, p.pipeline, p.period(), p.by, v)),
    "forecast": Report(ForecastParams, lambda cur, p, v, now: forecast(cur, p.period(), now, p.pipeline, p.by, v)),
    "sources": Report(PeriodParams, lambda cur, p, v, _: sources(cur, p.period(), v)),
    "activity": Report(PeopleParams, lambda cur, p, v, _: activity(cur, p.period(), p.by, v)),
    "kpis": Report(PeopleParams, lambda cur, p, v, _: kpis(cur, p.period(), p.by, v)),
}
