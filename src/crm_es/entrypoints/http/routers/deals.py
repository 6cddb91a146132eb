"""/deals: open, change, move, win, lose, reopen; lists and one deal."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from crm_es.entrypoints.http.auth import Visible, readable
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor
from crm_es.entrypoints.http.answers import DealDetail, DealPage
from crm_es.entrypoints.http.respond import answer, found
from crm_es.entrypoints.http.schemas import CommandAnswer, DealClose, DealCreate, DealReopen, StageMove
from crm_es.inputs.records import DealLoss, DealUpdate
from crm_es.aggregates.deal import DealDetails
from crm_es.commands import execute
from crm_es.commands.deals import (
    ChangeDeal,
    LoseDeal,
    MoveDeal,
    OpenDeal,
    ReopenDeal,
    WinDeal,
    change_deal,
    lose_deal,
    move_deal,
    open_deal,
    reopen_deal,
    win_deal,
)
from crm_es.queries import records

router = APIRouter(tags=["deals"])

DETAILS = set(DealDetails.__dataclass_fields__)


@router.post("/deals", status_code=201, response_model=CommandAnswer)
def post_deal(body: DealCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    details = DealDetails(
        body.title, tuple(body.contact_ids), body.company_id, body.source, body.expected_close, body.properties
    )
    owner_id = body.owner_id or ctx.default_owner
    command = OpenDeal(details, body.pipeline_id, body.stage, body.amount, body.currency, owner_id, body.occurred_at)
    return answer(response, execute(open_deal, command, ctx))


@router.patch("/deals/{deal_id}", response_model=CommandAnswer)
def patch_deal(deal_id: UUID, body: DealUpdate, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Fields present are changed (null clears an optional one); absent fields stay.
    The stage is not changed here: POST /deals/{id}/stage records a move."""
    present = body.model_fields_set
    changes = body.model_dump(include=present & DETAILS)
    if changes.get("title", "") is None:
        changes.pop("title")
    if "contact_ids" in changes:
        changes["contact_ids"] = tuple(changes["contact_ids"] or ())
    if "properties" in changes:
        changes["properties"] = changes["properties"] or {}
    command = ChangeDeal(
        deal_id, changes, body.amount, body.currency, body.owner_id, owner_given="owner_id" in present,
        occurred_at=body.occurred_at,
    )
    return answer(response, execute(change_deal, command, ctx))


@router.post("/deals/{deal_id}/stage", response_model=CommandAnswer)
def post_stage(deal_id: UUID, body: StageMove, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(move_deal, MoveDeal(deal_id, body.stage, body.occurred_at), ctx))


@router.post("/deals/{deal_id}/won", response_model=CommandAnswer)
def post_won(deal_id: UUID, ctx: Ctx, response: Response, body: DealClose | None = None) -> dict[str, Any]:
    return answer(response, execute(win_deal, WinDeal(deal_id, body.occurred_at if body else None), ctx))


@router.post("/deals/{deal_id}/lost", response_model=CommandAnswer)
def post_lost(deal_id: UUID, body: DealLoss, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(lose_deal, LoseDeal(deal_id, body.reason, body.occurred_at, body.competitor), ctx))


@router.post("/deals/{deal_id}/reopen", response_model=CommandAnswer)
def post_reopen(deal_id: UUID, ctx: Ctx, response: Response, body: DealReopen | None = None) -> dict[str, Any]:
    body = body or DealReopen()
    return answer(response, execute(reopen_deal, ReopenDeal(deal_id, body.stage, body.occurred_at), ctx))


@router.get("/deals", response_model=DealPage)
def get_deals(
    cur: ReadCursor,
    visible: Visible,
    status: str | None = None,
    owner: UUID | None = None,
    stage: str | None = None,
    pipeline: UUID | None = None,
    source: str | None = None,
    company: UUID | None = None,
    q: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Any:
    return records.list_deals(
        cur, status=status, owner=owner, stage=stage, pipeline=pipeline, source=source, company=company, q=q,
        limit=limit, cursor=cursor, visible=visible,
    )


@router.get("/deals/{deal_id}", response_model=DealDetail)
def get_deal(deal_id: UUID, cur: ReadCursor, visible: Visible, response: Response) -> dict[str, Any]:
    return found(response, readable(cur, visible, records.get_deal(cur, deal_id)), "deal", deal_id)
