"""/pipelines and their boards."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from crm_es.entrypoints.http.auth import Visible
from crm_es.entrypoints.http.deps import AsOf, Ctx, KnownAt, Limit, ReadCursor, ServicesDep
from crm_es.entrypoints.http.answers import PipelinePage, PipelinePublic
from crm_es.entrypoints.http.report_answers import Board
from crm_es.entrypoints.http.respond import answer, found
from crm_es.entrypoints.http.schemas import CommandAnswer, PipelineCreate, PipelineUpdate, StageIn
from crm_es.inputs.fields import Currency
from crm_es.aggregates.base import NotFound
from crm_es.aggregates.pipeline import StageSpec
from crm_es.commands import execute
from crm_es.commands.pipelines import CreatePipeline, RevisePipeline, create_pipeline, revise_pipeline
from crm_es.queries import board, records
from crm_es.queries.past import Past

router = APIRouter(tags=["pipelines"])


def _specs(stages: list[StageIn]) -> list[StageSpec]:
    return [StageSpec(s.name, s.probability, s.id) for s in stages]


@router.post("/pipelines", status_code=201, response_model=CommandAnswer)
def post_pipeline(body: PipelineCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(create_pipeline, CreatePipeline(body.name, _specs(body.stages), body.occurred_at), ctx))


@router.patch("/pipelines/{pipeline_id}", response_model=CommandAnswer)
def patch_pipeline(pipeline_id: UUID, body: PipelineUpdate, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Rename the pipeline and/or give its wanted stages in order: stages are matched by
    id, else by name; a stage left out is removed (409 if it holds open deals)."""
    command = RevisePipeline(
        pipeline_id, body.name, _specs(body.stages) if body.stages is not None else None, body.occurred_at)
    return answer(response, execute(revise_pipeline, command, ctx))


@router.get("/pipelines", response_model=PipelinePage)
def get_pipelines(cur: ReadCursor, limit: Limit = 50, cursor: str | None = None) -> Any:
    return records.list_pipelines(cur, limit=limit, cursor=cursor)


@router.get("/pipelines/{pipeline_id}", response_model=PipelinePublic)
def get_pipeline(pipeline_id: UUID, cur: ReadCursor, response: Response) -> dict[str, Any]:
    return found(response, records.get_pipeline(cur, pipeline_id), "pipeline", pipeline_id)


@router.get("/pipelines/{pipeline_id}/board", response_model=Board)
def get_board(
    pipeline_id: UUID,
    cur: ReadCursor,
    services: ServicesDep,
    visible: Visible,
    owner: UUID | None = None,
    team: UUID | None = None,
    currency: Currency | None = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> dict[str, Any]:
    """The board now, or as it stood at a past moment (``as_of``; ``known_at``: only what
    had been recorded by then)."""
    if records.get_pipeline(cur, pipeline_id) is None:
        raise NotFound("pipeline", pipeline_id)
    past = Past.of(as_of, known_at)
    currency = currency or board.board_currency(cur, pipeline_id, past)
    stages = board.get_board(cur, pipeline_id, owner=owner, team=team, currency=currency, visible=visible, past=past)
    when = past.body() if past else {"as_of": services.clock.now().isoformat(), "known_at": None}
    return {"pipeline_id": pipeline_id, **when, "currency": currency, "stages": stages}
