"""/analytics: the reports over the history tables (any past moment). Analysts and
auditors read every deal; a manager, their team's (owners then, the team now)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from crm_es.entrypoints.http import report_answers as answers
from crm_es.entrypoints.http.auth import Visible
from crm_es.entrypoints.http.deps import AsOf, KnownAt, ReadCursor, ServicesDep
from crm_es.inputs.fields import Instant
from crm_es.queries import answer_cache
from crm_es.queries.analytics.activity import activity
from crm_es.queries.analytics.forecast import forecast
from crm_es.queries.analytics.funnel import funnel
from crm_es.queries.analytics.kpis import kpis
from crm_es.queries.analytics.movements import movements
from crm_es.queries.analytics.period import Period
from crm_es.queries.analytics.sources import sources
from crm_es.queries.analytics.velocity import velocity

router = APIRouter(prefix="/analytics", tags=["analytics"])
_FUNNEL = TypeAdapter(answers.Funnel)  # what FastAPI writes a Funnel answer with

From = Annotated[Instant, Query(alias="from", description="start of the period (business time, included)")]
To = Annotated[Instant, Query(description="end of the period (business time, excluded)")]
PipelineId = Annotated[UUID, Query(description="the pipeline whose stages the report follows")]
By = Annotated[Literal["rep", "team", "source"] | None, Query(description="one group per rep (owner then), team (now) or source")]


@router.get("/movements", response_model=answers.Movements)
def get_movements(cur: ReadCursor, visible: Visible, start: From, to: To, as_of: AsOf = None, known_at: KnownAt = None,
                  pipeline: UUID | None = None) -> dict[str, Any]:
    """Deals that entered, advanced, slipped back, were won, lost or reopened in the period."""
    return movements(cur, Period(start, to, as_of, known_at), pipeline, visible)


@router.get("/funnel", response_model=answers.Funnel)
async def get_funnel(request: Request, _cursor: ReadCursor, services: ServicesDep, visible: Visible, start: From, to: To,
                     pipeline: PipelineId, as_of: AsOf = None, known_at: KnownAt = None, by: By = None) -> Response:
    """Per stage: deals that entered it in the period and what became of them; conversions."""
    period = Period(start, to, as_of, known_at)
    # The times by their text: the answer repeats them with the offsets they were given in.
    key = ("funnel", pipeline, tuple(period.body().values()), by, visible)
    db, position = services.read_side.db, request.state.read_position
    body = answer_cache.kept(db, position, key)
    if body is None:  # the query and the model on the thread pool, as a plain ``def`` route's
        body = await answer_cache.once(db, position, key, lambda: run_in_threadpool(
            _funnel_answer, db, key, pipeline, period, by, visible))
    return Response(body, media_type="application/json")


def _funnel_answer(db: Any, key: tuple[Any, ...], pipeline: UUID, period: Period, by: str | None, visible: Any) -> bytes:
    """The funnel's JSON as the response model writes it, from one read transaction (on a
    cursor of its own: its readers may be gone before it is done), kept at its position."""
    with db.cursor() as cur, answer_cache.snapshot(cur) as position:
        found = funnel(cur, pipeline, period, by, visible)
    body = _FUNNEL.dump_json(_FUNNEL.validate_python(found), by_alias=True)
    answer_cache.keep(db, position, key, body)
    return body


@router.get("/velocity", response_model=answers.Velocity)
def get_velocity(cur: ReadCursor, visible: Visible, start: From, to: To, pipeline: PipelineId, as_of: AsOf = None,
                 known_at: KnownAt = None, by: By = None) -> dict[str, Any]:
    """Time in each stage and to close, win rate, average won amount, sales velocity."""
    return velocity(cur, pipeline, Period(start, to, as_of, known_at), by, visible)


ForecastBy = Annotated[Literal["rep", "team", "segment"] | None,
                       Query(description="one group per rep (owner then), team (now) or segment (Gold / Silver / Bronze)")]


@router.get("/forecast", response_model=answers.Forecast)
def get_forecast(cur: ReadCursor, services: ServicesDep, visible: Visible, start: From, to: To, as_of: AsOf = None,
                 known_at: KnownAt = None, pipeline: UUID | None = None, by: ForecastBy = None) -> dict[str, Any]:
    """The open deals as of `as_of` (default now) weighted by their stage's probability then, by
    expected close month (`no date` when none) and by segment, and listed Gold first; each rep's
    quotas for periods overlapping [from, to), the amount won in it and progress = won ÷ quota,
    per currency. A deal's segment: the best-ranked tag of the `potential` category (in its order:
    Gold, Silver, Bronze) carried then by a contact then at the deal's company then; none without
    a company or such a tag. A win counts unless the deal was reopened by `as_of`. `pipeline`
    narrows the open deals; progress counts wins in every pipeline."""
    return forecast(cur, Period(start, to, as_of, known_at), services.clock.now(), pipeline, by, visible)


RepOrTeam = Annotated[Literal["rep", "team"] | None, Query(description="one group per rep or per team (the rep's now)")]


@router.get("/sources", response_model=answers.Sources)
def get_sources(cur: ReadCursor, visible: Visible, start: From, to: To, as_of: AsOf = None,
                known_at: KnownAt = None) -> dict[str, Any]:
    """Per source: leads registered in the period, deals opened in it, deals won in it and their
    revenue per currency, and the share of the period's leads that became a deal (a lead became a
    deal when it is among the contacts a deal opened by `as_of` names now)."""
    return sources(cur, Period(start, to, as_of, known_at), visible)


@router.get("/activity", response_model=answers.Activity)
def get_activity(cur: ReadCursor, visible: Visible, start: From, to: To, as_of: AsOf = None, known_at: KnownAt = None,
                 by: RepOrTeam = None) -> dict[str, Any]:
    """Per rep (an interaction's `rep_id`, a deal's owner when it closed, a task's owner): calls
    made and received, e-mails sent and received, meetings held and missed, deals won and lost,
    tasks done (at `done_at`, known from when that was recorded)."""
    return activity(cur, Period(start, to, as_of, known_at), by, visible)


@router.get("/kpis", response_model=answers.Kpis)
def get_kpis(cur: ReadCursor, visible: Visible, start: From, to: To, as_of: AsOf = None, known_at: KnownAt = None,
             by: RepOrTeam = None) -> dict[str, Any]:
    """The CRM's KPIs: leads in 100 that became a deal, average won amount per currency, the
    customer base month by month (status `customer` at each month's start and end, growth),
    hours from a lead's registration to a rep's first touch (a call, e-mail sent, voicemail,
    meeting held, demo, visit or SMS naming a rep), retention of the customers held at the start
    (by their owner then) and renewals (deals won for a contact or company that had another deal
    won before). A lead counts for its owner when registered, a won deal for its owner then."""
    return kpis(cur, Period(start, to, as_of, known_at), by, visible)
