"""Interactions (one, or a tracking feed's batch), the records' timelines and the news feed."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import ValidationError

from crm_es.aggregates.interactions import InteractionSpec
from crm_es.entrypoints.http.auth import Visible, readable
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor, ServicesDep
from crm_es.entrypoints.http.interaction_schemas import (
    INTERACTION,
    BatchIn,
    BatchTarget,
    InteractionBase,
    InteractionIn,
    own_fields,
)
from crm_es.entrypoints.http.answers import BatchOut, FeedPage, TimelinePage
from crm_es.entrypoints.http.problems import untagged
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.entrypoints.http.statuses import item_problem
from crm_es.inputs.fields import Instant
from crm_es.aggregates.base import NotFound
from crm_es.commands import execute
from crm_es.commands.interactions import BatchItem, ItemResult, RecordBatch, RecordInteraction, record_batch, record_interaction
from crm_es.queries import records
from crm_es.queries import timeline as timelines

router = APIRouter(tags=["interactions and timelines"])

BATCH_PATH = "/interactions:batch"  # allowed a larger body than other routes (settings.max_batch_bytes)


def _spec(body: InteractionBase) -> InteractionSpec:
    return InteractionSpec(body.type, own_fields(body), body.rep_id, body.deal_id)  # type: ignore[attr-defined]


@router.post("/contacts/{contact_id}/interactions", status_code=201, response_model=CommandAnswer,
             responses={200: {"model": CommandAnswer, "description": "Its event_id was sent before: nothing written"}})
def post_interaction(contact_id: UUID, body: InteractionIn, ctx: Ctx, services: ServicesDep,
                     response: Response) -> dict[str, Any]:
    """Record one interaction on the contact (and on the deal it names). A call logged an
    hour later keeps its real time in `occurred_at`. With `event_id`, sending it again
    writes nothing (200, `Idempotent-Replayed: true`)."""
    command = RecordInteraction(contact_id, _spec(body), body.occurred_at, body.event_id, services.settings.session_gap)
    return answer(response, execute(record_interaction, command, ctx))


@router.post(BATCH_PATH, response_model=BatchOut)
def post_batch(body: BatchIn, ctx: Ctx, services: ServicesDep) -> Response:
    """Up to 10,000 interactions (a tracking feed), each naming its contact by
    `contact_id` or `email`. Every item gets its own answer: `accepted`, `duplicate` (its
    `event_id` was sent before) or `error` (why, with the field) — one bad item never
    fails the others. The accepted ones are saved in one transaction."""
    items, results = [], []
    for index, raw in enumerate(body.items):
        parsed = _item(index, raw)
        if isinstance(parsed, ItemResult):
            results.append(parsed)
        else:
            items.append(parsed)
    results += record_batch(RecordBatch(items, services.settings.session_gap), ctx)
    results.sort(key=lambda r: r.index)
    counted = {s: sum(r.status == s for r in results) for s in ("accepted", "duplicate", "error")}
    shown = [r.body() if r.error is None else _refused(r) for r in results]
    body = {"results": shown, "accepted": counted["accepted"], "duplicates": counted["duplicate"], "errors": counted["error"]}
    # Encoded here: FastAPI's own check and encoding of 10,000 answers cost more than the
    # batch's save. BatchOut still documents them.
    return Response(orjson.dumps(body), media_type="application/json")


def _refused(result: ItemResult) -> dict[str, Any]:
    """A refused item's answer: its problem with its HTTP status."""
    body = result.body()
    body["error"] = item_problem(body["error"])
    return body


def _item(index: int, raw: dict[str, Any]) -> BatchItem | ItemResult:
    """One batch item checked on its own: an interaction body plus its contact."""
    raw = dict(raw)
    target_fields = {name: raw.pop(name) for name in ("contact_id", "email") if name in raw}
    try:
        target = BatchTarget.model_validate(target_fields)
        body = INTERACTION.validate_python(raw)
    except ValidationError as error:
        return _invalid(index, error, raw.get("type"))
    if (target.contact_id is None) == (target.email is None):
        return ItemResult(index, "error", error={
            "status": 422, "rule": "invalid-field", "field": f"items[{index}].contact_id",
            "detail": "name the contact by contact_id or by email (one of them)",
        })
    return BatchItem(index, _spec(body), target.contact_id, target.email, body.occurred_at, body.event_id)


def _invalid(index: int, error: ValidationError, tag: Any) -> ItemResult:
    errors = []
    for e in error.errors():
        name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in untagged(tuple(e["loc"]), tag, e["type"]))
        errors.append({"field": f"items[{index}]{name}", "message": e["msg"]})
    return ItemResult(index, "error", error={
        "status": 422, "rule": "invalid-field", "detail": "invalid field(s): " + ", ".join(e["field"] for e in errors),
        "errors": errors,
    })


Types = Annotated[list[Literal[tuple(timelines.TYPES)]] | None, Query(description="only these types (repeat the parameter)")]  # type: ignore[misc]
From = Annotated[Instant | None, Query(alias="from", description="occurred at or after")]
To = Annotated[Instant | None, Query(description="occurred before")]


@router.get("/contacts/{contact_id}/timeline", response_model=TimelinePage)
def get_contact_timeline(contact_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep, type: Types = None,
                         from_: From = None, to: To = None, limit: Limit = 50, cursor: str | None = None) -> Any:
    """Every event on the contact, oldest first: its interactions (type, fields, actor,
    occurred_at, recorded_at) and what happened to the record itself. Read from the event
    store: a write shows at once."""
    if readable(cur, visible, records.get_contact(cur, contact_id)) is None:
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
