"""Deals: opened in a pipeline, moved through its stages, won, lost, reopened."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from crm_es.aggregates import Company, Contact, Deal, Pipeline, Rep
from crm_es.aggregates import deal as deals
from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Event, Meta, NotFound, RuleViolated
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.record_values import RecordValues, checked
from crm_es.commands.context import CommandContext, CommandResult, TooMuchContention
from crm_es.commands.pipeline import decide_and_append
from crm_es.commands.setup import read_setup
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store.event_store import EventStore


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


def _check_links(ctx: CommandContext, details: dict[str, Any], named_before: tuple[UUID, ...]) -> None:
    ctx.exists(Company, details.get("company_id"), "company_id")
    for i, contact_id in enumerate(details.get("contact_ids") or ()):
        contact = ctx.referenced(Contact, contact_id, f"contact_ids[{i}]")
        if contact_id not in named_before:  # one the deal names already may stay, forgotten or not
            _refuse_forgotten(contact, f"contact_ids[{i}]")


def _refuse_forgotten(contact: Contact | None, field: str) -> None:
    """A deal's title would name a person who asked to be forgotten, under a key that
    forgetting them did not delete: a forgotten contact is not named by a deal anew."""
    if contact is not None and contact.forgotten:
        raise RuleViolated("contact-forgotten", f"contact {contact.id} has been forgotten: no deal can name them",
                           field=field)


def open_deal(cmd: OpenDeal, ctx: CommandContext) -> CommandResult:
    # The configuration and every record the deal names, in one read.
    setup, [pipeline, owner, _, *named] = read_setup(
        ctx, (Pipeline, cmd.pipeline_id, "pipeline_id"), (Rep, cmd.owner_id, "owner_id"),
        (Company, cmd.details.company_id, "company_id"),
        *((Contact, contact_id, f"contact_ids[{i}]") for i, contact_id in enumerate(cmd.details.contact_ids)),
    )
    for i, contact in enumerate(named):
        _refuse_forgotten(contact, f"contact_ids[{i}]")
    values = checked(setup, "deal", RecordValues(properties=cmd.details.properties or {}, source=cmd.details.source))
    details = replace(cmd.details, properties=values.properties, source=values.source)
    deal_id = ctx.new_id()
    meta = ctx.meta(cmd.occurred_at)
    reps.check_assignable(owner, meta.occurred_at, "owner_id")
    events = deals.open_deal(deal_id, details, pipeline, cmd.stage, cmd.amount, cmd.currency, cmd.owner_id, meta)
    result = ctx.save(deal_id, events, created=True)
    ctx.store.remember_fixed_link(deal_id, pipeline.id)
    _erase_if_forgotten_meanwhile(ctx, deal_id, details.contact_ids)
    return result


def change_deal(cmd: ChangeDeal, ctx: CommandContext) -> CommandResult:
    setup, [deal] = read_setup(ctx, (Deal, cmd.deal_id, None))
    deal = ctx.check_target(deal)
    _check_links(ctx, cmd.changes, deal.details.contact_ids)
    meta = ctx.meta(cmd.occurred_at)
    if cmd.owner_given and cmd.owner_id is not None:
        owner = ctx.load(Rep, cmd.owner_id, "owner_id")
        if owner.id != deal.owner_id:  # a deal of a deactivated rep may still be changed
            reps.check_assignable(owner, meta.occurred_at, "owner_id")
    values = checked(setup, "deal", RecordValues(cmd.changes.get("properties"), source=cmd.changes.get("source")))
    changes = {**cmd.changes, **{f: getattr(values, f) for f in ("properties", "source") if f in cmd.changes}}
    events = deals.change(deal, changes, cmd.amount, cmd.currency, cmd.owner_id, cmd.owner_given, meta)
    result = ctx.save(deal.id, events, current_version=deal.version)
    added = tuple(c for c in cmd.changes.get("contact_ids") or () if c not in deal.details.contact_ids)
    _erase_if_forgotten_meanwhile(ctx, deal.id, added)
    return result


# --- erasure: a deal's free text goes with any contact it named -----------------------


def erase_texts_naming(ctx: CommandContext, contact_id: UUID, meta: Meta) -> list[Event]:
    """For ``forget_contact``, once the contact's key is deleted: delete the text key of
    every deal that ever named them (found on the read side, caught up), and the events
    that record it and name each deal's next key, to be saved with ``Contact.Forgotten``.
    A deal saved after this look-up finds the contact's key gone itself (below)."""
    found = ctx.store.load_many([(Deal, deal_id) for deal_id in ctx.lookups.deals_naming(contact_id)])
    events: list[Event] = []
    for deal in found:
        if deal is not None:
            ctx.erase_personal_data(deals.key_of_text(deal))
            events += deals.contact_forgotten(deal, contact_id, ctx.new_id(), meta)
    return events


def _erase_if_forgotten_meanwhile(ctx: CommandContext, deal_id: UUID, contact_ids: tuple[UUID, ...]) -> None:
    """Close the race with a forgetting that began while this deal was decided: it
    deletes the contact's key, then looks the deals naming them up. A deal saved after
    that look-up is not found, but it finds the key gone once saved, and erases its own
    text as the forgetting would have (an import's deals too, once the import commits)."""
    if contact_ids:
        ctx.store.after_commit(partial(_erase_naming_forgotten, ctx, deal_id, contact_ids))


def _erase_naming_forgotten(ctx: CommandContext, deal_id: UUID, contact_ids: tuple[UUID, ...],
                            store: EventStore) -> None:
    gone = store.keys.forgotten([str(c) for c in contact_ids])
    if not gone:
        return

    def decide(work: UnitOfWork) -> None:
        deal = work.load(Deal, deal_id)
        assert deal is not None  # saved just before
        ctx.erase_personal_data(deals.key_of_text(deal))
        # Not under the request's Idempotency-Key: its answer is the deal's opening.
        work.save(deals.contact_forgotten(deal, UUID(gone[0]), ctx.new_id(), ctx.meta()))

    # A lost race: the deal moved meanwhile, and its new version erased again.
    with contextlib.suppress(TooMuchContention):
        decide_and_append(store, decide)


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
