"""Interactions (one, or a tracking feed's batch), the records' timelines and the news feed."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from crm_es.entrypoints.http.auth import Visible, readable
from crm_es.entrypoints.http.batch_body import read_batch
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor, ServicesDep
from crm_es.entrypoints.http.interaction_schemas import BatchIn, InteractionIn, spec_of
from crm_es.entrypoints.http.answers import BatchOut, FeedPage, TimelinePage
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.entrypoints.http.statuses import item_problem
from crm_es.inputs.fields import Instant
from crm_es.aggregates.base import NotFound
from crm_es.commands import CommandContext, execute
from crm_es.commands.unit_of_work import cycle_collector_paused
from crm_es.commands.interactions import ItemResult, RecordBatch, RecordInteraction, record_batch, record_interaction
from crm_es.queries import records
from crm_es.queries import timeline as timelines

router = APIRouter(tags=["interactions and timelines"])

BATCH_PATH = "/interactions:batch"  # allowed a larger body than other routes (settings.max_batch_bytes)


@router.post("/contacts/{contact_id}/interactions", status_code=201, response_model=CommandAnswer,
             responses={200: {"model": CommandAnswer, "description": "Its event_id was sent before: nothing written"}})
def post_interaction(contact_id: UUID, body: InteractionIn, ctx: Ctx, services: ServicesDep,
                     response: Response) -> dict[str, Any]:
    """Record one interaction on the contact (and on the deal it names). A call logged an
    hour later keeps its real time in `occurred_at`. With `event_id`, sending it again
    writes nothing (200, `Idempotent-Replayed: true`)."""
    command = RecordInteraction(contact_id, spec_of(body), body.occurred_at, body.event_id, services.settings.session_gap)
    return answer(response, execute(record_interaction, command, ctx))


async def _sent_body(request: Request) -> tuple[bytes, str | None]:
    return await request.body(), request.headers.get("content-type")


SentBody = Annotated[tuple[bytes, str | None], Depends(_sent_body)]
# The route reads its body itself (batch_body.py: one parse), so FastAPI documents it from here.
BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": BatchIn.model_json_schema()}}}}


@router.post(BATCH_PATH, response_model=BatchOut, openapi_extra=BATCH_BODY)
def post_batch(sent: SentBody, ctx: Ctx, services: ServicesDep) -> Response:
    """Up to 10,000 interactions (a tracking feed), each naming its contact by
    `contact_id` or `email`. Every item gets its own answer: `accepted`, `duplicate` (its
    `event_id` was sent before) or `error` (why, with the field) — one bad item never
    fails the others. The accepted ones are saved in one transaction."""
    # Some 100,000 short-lived objects, none in a cycle: the collector's passes over them
    # would cost more than parsing the body. Back on once they are gone (no pass then).
    with cycle_collector_paused():
        answered = _recorded(sent, ctx, services.settings.session_gap)
    if isinstance(answered, Response):  # the JSON guard's refusal
        return answered
    # Encoded here: FastAPI's own check and encoding of 10,000 answers cost more than the
    # batch's save. BatchOut still documents them.
    return Response(answered, media_type="application/json")


def _recorded(sent: tuple[bytes, str | None], ctx: CommandContext, session_gap: timedelta) -> bytes | Response:
    read = read_batch(*sent)
    if isinstance(read, Response):
        return read
    items, results = read
    results += record_batch(RecordBatch(items, session_gap), ctx)
    results.sort(key=lambda r: r.index)
    counted = {s: sum(r.status == s for r in results) for s in ("accepted", "duplicate", "error")}
    shown = [r.body() if r.error is None else _refused(r) for r in results]
    body = {"results": shown, "accepted": counted["accepted"], "duplicates": counted["duplicate"], "errors": counted["error"]}
    return orjson.dumps(body)


def _refused(result: ItemResult) -> dict[str, Any]:
    """A refused item's answer: its problem with its HTTP status."""
    body = result.body()
    body["error"] = item_problem(body["error"])
    return body


Types = Annotated[list[Literal[tuple(timelines.TYPES)]] | None, Query(description="only these types (repeat the parameter)")]  # type: ignore[misc]
From = Annotated[Instant | None, Query(alias="from", description="occurred at or after")]
To = Annotated[Instant | None, Query(description="occurred before")]


@router.get("/contacts/{contact_id}/timeline", response_model=TimelinePage)
def get_contact_timeline(contact_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep, type: Types = None,
                         from_: From = None, to: To = None, limit: Limit = 50, cursor: str | None = None) -> Any:
    """Every event on the contact, oldest first: its interactions (type, fields, actor,
    occurred_at, recorded_at) and what happened to the record itself. Read from the event
    store: a write shows at once."""
    if readable(cur, visible, records.get_contact_owner(cur, contact_id)) is None:
        raise NotFound("contact", contact_id)
    return timelines.timeline(services.store, contact_id, types=type, period=timelines.Period(from_, to), limit=limit,
                              cursor=cursor)


@router.get("/deals/{deal_id}/timeline", response_model=TimelinePage)
def get_deal_timeline(deal_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep, type: Types = None,
                      from_: From = None, to: To = None, limit: Limit = 50, cursor: str | None = None) -> Any:
    """Every event on the deal, oldest first, with the interactions that concern it."""
    if readable(cur, visible, records.get_deal(cur, deal_id)) is None:
        raise NotFound("deal", deal_id)
    return timelines.timeline(services.store, deal_id, types=type, period=timelines.Period(from_, to), limit=limit,
                              cursor=cursor)


@router.get("/feed", response_model=FeedPage)
def get_feed(cur: ReadCursor, visible: Visible, services: ServicesDep, limit: Limit = 50, cursor: str | None = None) -> Any:
    """The news feed (F14): deals opened, moved, won, lost or reopened, new contacts,
    meetings missed — newest first, on the records the caller may see."""
    return timelines.feed(cur, services.store, limit=limit, cursor=cursor, visible=visible)
