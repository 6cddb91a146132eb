"""/analytics: the reports over the history tables (any past moment). Analysts and
auditors read every deal; a manager, their team's (owners then, the team now)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from crm_es.api.auth import Visible
from crm_es.api.deps import AsOf, KnownAt, ReadCursor
from crm_es.queries.analytics.funnel import funnel
from crm_es.queries.analytics.movements import movements
from crm_es.queries.analytics.period import Period
from crm_es.queries.analytics.velocity import velocity

router = APIRouter(prefix="/analytics", tags=["analytics"])

From = Annotated[AwareDatetime, Query(alias="from", description="start of the period (business time, included)")]
To = Annotated[AwareDatetime, Query(description="end of the period (business time, excluded)")]
PipelineId = Annotated[UUID, Query(description="the pipeline whose stages the report follows")]
By = Annotated[Literal["rep", "team", "source"] | None, Query(description="one group per rep (owner then), team (now) or source")]


@router.get("/movements")
def get_movements(cur: ReadCursor, visible: Visible, start: From, to: To, as_of: AsOf = None, known_at: KnownAt = None,
                  pipeline: UUID | None = None) -> dict[str, Any]:
    """Deals that entered, advanced, slipped back, were won, lost or reopened in the period."""
    return movements(cur, Period(start, to, as_of, known_at), pipeline, visible)


@router.get("/funnel")
def get_funnel(cur: ReadCursor, visible: Visible, start: From, to: To, pipeline: PipelineId, as_of: AsOf = None,
               known_at: KnownAt = None, by: By = None) -> dict[str, Any]:
    """Per stage: deals that entered it in the period and what became of them; conversions."""
    return funnel(cur, pipeline, Period(start, to, as_of, known_at), by, visible)


@router.get("/velocity")
def get_velocity(cur: ReadCursor, visible: Visible, start: From, to: To, pipeline: PipelineId, as_of: AsOf = None,
                 known_at: KnownAt = None, by: By = None) -> dict[str, Any]:
    """Time in each stage and to close, win rate, average won amount, sales velocity."""
    return velocity(cur, pipeline, Period(start, to, as_of, known_at), by, visible)
