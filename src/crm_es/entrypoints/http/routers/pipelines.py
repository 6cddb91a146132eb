"""/pipelines and their boards."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

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
from crm_es.queries import answer_cache, board, records
from crm_es.queries.past import Past

Segment = Annotated[str | None, Query(min_length=1, max_length=100, description=(
    "only the deals of companies in this segment then: Gold, Silver or Bronze, the `potential` tags their contacts "
    "carry (as the forecast's `by=segment`)"))]

router = APIRouter(tags=["pipelines"])
_BOARD = TypeAdapter(Board)  # what FastAPI writes a Board answer with
_NO_TIME = b'"as_of":""'


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
async def get_board(
    request: Request,
    pipeline_id: UUID,
    _cursor: ReadCursor,  # waits for ?after= and notes the position the answer is read at
    services: ServicesDep,
    visible: Visible,
    owner: UUID | None = None,
    team: UUID | None = None,
    segment: Segment = None,
    currency: Currency | None = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> Response:
    """The board now, or as it stood at a past moment (``as_of``; ``known_at``: only what
    had been recorded by then)."""
    past = Past.of(as_of, known_at)
    # A past moment by its text: the answer repeats it with the offset it was given in.
    key = ("board", pipeline_id, owner, team, segment, currency, visible, tuple(past.body().values()) if past else None)
    db, position = services.read_side.db, request.state.read_position
    answer = answer_cache.kept(db, position, key)
    if answer is None:  # the queries and the model on the thread pool, as a plain ``def`` route's
        answer = await answer_cache.once(db, position, key, lambda: run_in_threadpool(
            _board_answer, db, key, pipeline_id, (owner, team, segment), currency, visible, past))
    if past is not None:
        return Response(answer, media_type="application/json")
    head, tail = answer  # the present: "as_of" is the clock's now, at every read
    return Response(b"".join((head, orjson.dumps(services.clock.now().isoformat()), tail)), media_type="application/json")


def _board_answer(db: Any, key: tuple[Any, ...], pipeline_id: UUID, filters: tuple[UUID | None, UUID | None, str | None],
                  currency: str | None, visible: Any, past: Past | None) -> bytes | tuple[bytes, bytes]:
    """The board's JSON as the response model writes it, computed in one read transaction
    and kept at its position; for the present, split around the place of "as_of". A cursor
    of its own: the readers sharing this answer may all be gone before it is done."""
    with db.cursor() as cur, answer_cache.snapshot(cur) as position:
        if not records.pipeline_exists(cur, pipeline_id):
            raise NotFound("pipeline", pipeline_id)
        currency = currency or board.board_currency(cur, pipeline_id, past)
        owner, team, segment = filters
        stages = board.get_board(cur, pipeline_id, owner=owner, team=team, segment=segment, currency=currency,
                                 visible=visible, past=past)
    when = past.body() if past else {"as_of": "", "known_at": None}
    body = _BOARD.dump_json(_BOARD.validate_python({"pipeline_id": pipeline_id, **when, "currency": currency,
                                                    "stages": stages}), by_alias=True)
    answer: bytes | tuple[bytes, bytes] = body
    if past is None:
        # The first "as_of" is the board's own: pipeline_id, a UUID, is the only field before it.
        at = body.index(_NO_TIME) + len(_NO_TIME) - 2
        answer = (body[:at], body[at + 2:])
    answer_cache.keep(db, position, key, answer)
    return answer
