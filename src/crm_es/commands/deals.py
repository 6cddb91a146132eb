"""Deals: opened in a pipeline, moved through its stages, won, lost, reopened."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates import Company, Contact, Deal, Pipeline, Rep
from crm_es.aggregates.base import NotFound
from crm_es.aggregates import deal as deals
from crm_es.aggregates import rep as reps
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.record_values import RecordValues, checked
from crm_es.commands.context import CommandContext, CommandResult
from crm_es.commands.setup import read_setup


@dataclass(frozen=True)
class OpenDeal:
    details: DealDetails
    pipeline_id: UUID
    stage: str
    amount: Decimal
    currency: str
    owner_id: UUID | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ChangeDeal:
    deal_id: UUID
    changes: dict[str, Any] = field(default_factory=dict)  # DealDetails fields present in the request
    amount: Decimal | None = None
    currency: str | None = None
    owner_id: UUID | None = None
    owner_given: bool = False
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class MoveDeal:
    deal_id: UUID
    stage: str
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class WinDeal:
    deal_id: UUID
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class LoseDeal:
    deal_id: UUID
    reason: str
    occurred_at: datetime | None = None
    competitor: str | None = None


@dataclass(frozen=True)
class ReopenDeal:
    deal_id: UUID
    stage: str | None = None
    occurred_at: datetime | None = None


def _check_links(ctx: CommandContext, details: dict[str, Any]) -> None:
    ctx.exists(Company, details.get("company_id"), "company_id")
    for i, contact_id in enumerate(details.get("contact_ids") or ()):
        ctx.exists(Contact, contact_id, f"contact_ids[{i}]")


def open_deal(cmd: OpenDeal, ctx: CommandContext) -> CommandResult:
    # The configuration and every record the deal names, in one read.
    setup, [pipeline, owner, *_] = read_setup(
        ctx, (Pipeline, cmd.pipeline_id, "pipeline_id"), (Rep, cmd.owner_id, "owner_id"),
        (Company, cmd.details.company_id, "company_id"),
        *((Contact, contact_id, f"contact_ids[{i}]") for i, contact_id in enumerate(cmd.details.contact_ids)),
    )
    values = checked(setup, "deal", RecordValues(properties=cmd.details.properties or {}, source=cmd.details.source))
    details = replace(cmd.details, properties=values.properties, source=values.source)
    deal_id = ctx.new_id()
    meta = ctx.meta(cmd.occurred_at)
    reps.check_assignable(owner, meta.occurred_at, "owner_id")
    events = deals.open_deal(deal_id, details, pipeline, cmd.stage, cmd.amount, cmd.currency, cmd.owner_id, meta)
    result = ctx.save(deal_id, events, created=True)
    ctx.store.remember_fixed_link(deal_id, pipeline.id)
    return result


def change_deal(cmd: ChangeDeal, ctx: CommandContext) -> CommandResult:
    setup, [deal] = read_setup(ctx, (Deal, cmd.deal_id, None))
    deal = ctx.check_target(deal)
    _check_links(ctx, cmd.changes)
    meta = ctx.meta(cmd.occurred_at)
    if cmd.owner_given and cmd.owner_id is not None:
        owner = ctx.load(Rep, cmd.owner_id, "owner_id")
        if owner.id != deal.owner_id:  # a deal of a deactivated rep may still be changed
            reps.check_assignable(owner, meta.occurred_at, "owner_id")
    values = checked(setup, "deal", RecordValues(cmd.changes.get("properties"), source=cmd.changes.get("source")))
    changes = {**cmd.changes, **{f: getattr(values, f) for f in ("properties", "source") if f in cmd.changes}}
    events = deals.change(deal, changes, cmd.amount, cmd.currency, cmd.owner_id, cmd.owner_given, meta)
    return ctx.save(deal.id, events, current_version=deal.version)


def _deal_and_pipeline(ctx: CommandContext, deal_id: UUID) -> tuple[Deal, Pipeline]:
    """The deal the command changes and its pipeline, in one read once the link is known
    (a deal never changes pipeline)."""
    pipeline_id = ctx.store.fixed_link(deal_id)
    if pipeline_id is not None:
        deal, pipeline = ctx.store.load_many([(Deal, deal_id), (Pipeline, pipeline_id)])
        if deal is None:
            raise NotFound("deal", deal_id)
    else:
        deal = ctx.load(Deal, deal_id)
        pipeline = ctx.load(Pipeline, deal.pipeline_id)
        ctx.store.remember_fixed_link(deal_id, deal.pipeline_id)
    return ctx.check_target(deal), pipeline


def move_deal(cmd: MoveDeal, ctx: CommandContext) -> CommandResult:
    deal, pipeline = _deal_and_pipeline(ctx, cmd.deal_id)
    events = deals.move(deal, pipeline, cmd.stage, ctx.meta(cmd.occurred_at))
    return ctx.save(deal.id, events, current_version=deal.version)


def win_deal(cmd: WinDeal, ctx: CommandContext) -> CommandResult:
    deal = ctx.target(Deal, cmd.deal_id)
    return ctx.save(deal.id, deals.win(deal, ctx.meta(cmd.occurred_at)), current_version=deal.version)


def lose_deal(cmd: LoseDeal, ctx: CommandContext) -> CommandResult:
    deal = ctx.target(Deal, cmd.deal_id)
    return ctx.save(deal.id, deals.lose(deal, cmd.reason, ctx.meta(cmd.occurred_at), cmd.competitor), current_version=deal.version)


def reopen_deal(cmd: ReopenDeal, ctx: CommandContext) -> CommandResult:
    deal, pipeline = _deal_and_pipeline(ctx, cmd.deal_id)
    events = deals.reopen(deal, pipeline, cmd.stage, ctx.meta(cmd.occurred_at))
    return ctx.save(deal.id, events, current_version=deal.version)
