"""Interactions: one at a time from a sales app, or thousands at once from a tracking feed.

A batch is decided item by item against the records as they stand (each item sees the
ones before it), then saved in ONE store transaction. One bad item is an error in its
own answer and never fails the others. A sender's ``event_id`` is claimed with the
events, so a re-sent item is a duplicate and writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from crm_es.aggregates import Contact, Deal, Rep
from crm_es.aggregates import contact as contacts
from crm_es.aggregates import deal as deals
from crm_es.aggregates.base import DomainError, Event, Meta, NotFound
from crm_es.aggregates.interactions import DEFAULT_SESSION_GAP, InteractionSpec
from crm_es.commands.context import CommandContext, CommandResult, TooMuchContention
from crm_es.commands.pipeline import LostRace, decide_and_append
from crm_es.commands.unit_of_work import cycle_collector_paused
from crm_es.commands.records import EMAIL_SCOPE
from crm_es.store import Claim, IdempotencyRecord
from crm_es.store.event_store import SubjectForgotten

EVENT_ID_SCOPE = "interaction-event"  # the claims that make a sender's event_id count once


@dataclass(frozen=True)
class RecordInteraction:
    contact_id: UUID
    spec: InteractionSpec
    occurred_at: datetime | None = None
    event_id: str | None = None
    session_gap: timedelta = DEFAULT_SESSION_GAP


class BatchItem(NamedTuple):  # a tuple: made 10,000 times a batch, faster than a frozen dataclass
    """One item of a batch: the contact named by id or by e-mail."""

    index: int
    spec: InteractionSpec
    contact_id: UUID | None = None
    email: str | None = None
    occurred_at: datetime | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class RecordBatch:
    items: list[BatchItem]
    session_gap: timedelta = DEFAULT_SESSION_GAP


class ItemResult(NamedTuple):  # a tuple: one per item of a batch
    index: int
    status: str  # accepted | duplicate | error
    id: UUID | None = None  # the contact
    error: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.id is not None:
            out["id"] = str(self.id)
        if self.error is not None:
            out["error"] = self.error
        return out


def item_error(index: int, error: DomainError) -> ItemResult:
    """An item's refusal, kept with the batch's answer: its category, not a status (the
    entry point answers the category: entrypoints/http/statuses.item_problem)."""
    field_name = getattr(error, "field", None)
    problem = {"category": error.category, "rule": error.rule, "detail": error.detail}
    if field_name:
        problem["field"] = f"items[{index}].{field_name}"
    return ItemResult(index, "error", error=problem)


def _decide(ctx: CommandContext, contact: Contact, deal: Deal | None, spec: InteractionSpec, meta: Meta,
            gap: timedelta) -> list[Event]:
    """The events of one interaction: on the contact, and mirrored on the deal it names
    (both checked as the actor's to write by the callers, as they load them)."""
    events = contacts.record_interaction(contact, spec, meta, gap)
    if deal is not None:
        events += deals.record_interaction(deal, events[0], meta)
    return events


def _with_rep(spec: InteractionSpec, ctx: CommandContext) -> InteractionSpec:
    """Who did it: the rep named, else the rep whose key this is."""
    if spec.rep_id is not None or ctx.default_owner is None:
        return spec
    return replace(spec, rep_id=ctx.default_owner)


def record_interaction(cmd: RecordInteraction, ctx: CommandContext) -> CommandResult:
    contact = ctx.target(Contact, cmd.contact_id)
    spec = _with_rep(cmd.spec, ctx)
    ctx.exists(Rep, spec.rep_id, "rep_id")
    deal = ctx.referenced(Deal, spec.deal_id, "deal_id", changed=True) if spec.deal_id else None
    claims = []
    if cmd.event_id is not None:
        if ctx.store.claim_owner(EVENT_ID_SCOPE, cmd.event_id) is not None:  # sent before: nothing to write
            # Sent by a twin with this Idempotency-Key, maybe: then its answer is this one's.
            return ctx.first_answer() or CommandResult(contact.id, contact.version, ctx.store.max_position(), 200,
                                                       replayed=True)
        claims.append(Claim(EVENT_ID_SCOPE, cmd.event_id, contact.id))
    events = _decide(ctx, contact, deal, spec, ctx.meta(cmd.occurred_at), cmd.session_gap)
    # 201: a new interaction (the answer names its contact, as every command's does).
    return ctx.save(contact.id, events, current_version=contact.version, claims=claims, created=True)


# --- batches ------------------------------------------------------------------------


def record_batch(cmd: RecordBatch, ctx: CommandContext) -> list[ItemResult]:
    """Every item's answer, in item order. A lost race with another writer (a contact
    changed meanwhile, an event_id claimed) decides the whole batch again."""
    first = _first_answer(ctx)
    if first is not None:
        return first
    forgotten: set[str] = set()  # contacts forgotten while the batch was decided

    def after_lost_race(error: LostRace) -> list[ItemResult] | None:
        if isinstance(error, SubjectForgotten):  # their items become errors; the others are saved
            forgotten.add(error.subject)
            return None
        return _first_answer(ctx)  # a twin with this Idempotency-Key may have saved first: its answers

    with cycle_collector_paused():
        results, _ = decide_and_append(
            ctx.store, lambda work: _record_batch_once(cmd, replace(ctx, store=work), forgotten),
            after_lost_race=after_lost_race,
            on_contention=lambda: TooMuchContention("the records kept changing while this batch was decided; send it again"),
        )
    return results


@dataclass
class _Records:
    """The records a batch touches, loaded in one read, then updated as items are decided."""

    contacts: dict[UUID, Contact | None] = field(default_factory=dict)
    deals: dict[UUID, Deal | None] = field(default_factory=dict)
    reps: dict[UUID, Rep | None] = field(default_factory=dict)


def _load(ctx: CommandContext, contact_ids: set[UUID], deal_ids: set[UUID], rep_ids: set[UUID]) -> _Records:
    wanted = [*((Contact, i) for i in contact_ids), *((Deal, i) for i in deal_ids), *((Rep, i) for i in rep_ids)]
    states = dict(zip((i for _, i in wanted), ctx.store.load_many(wanted), strict=True)) if wanted else {}
    return _Records(
        {i: states[i] for i in contact_ids}, {i: states[i] for i in deal_ids}, {i: states[i] for i in rep_ids}
    )


def _record_batch_once(cmd: RecordBatch, ctx: CommandContext, forgotten: set[str]) -> list[ItemResult]:
    items = cmd.items if ctx.default_owner is None else [i._replace(spec=_with_rep(i.spec, ctx)) for i in cmd.items]
    owners = ctx.store.claim_owners(EMAIL_SCOPE, {_email_key(i.email) for i in items if i.email is not None})
    by_email = {key: UUID(owner) for key, owner in owners.items()}  # parsed once, not once an item
    contact_of = {
        item.index: item.contact_id or by_email.get(_email_key(item.email))
        for item in items
    }
    sent = ctx.store.claim_owners(EVENT_ID_SCOPE, {i.event_id for i in items if i.event_id is not None})
    already_sent = {event_id: UUID(contact_id) for event_id, contact_id in sent.items()}
    records = _load(
        ctx,
        {c for c in contact_of.values() if c is not None},
        {i.spec.deal_id for i in items if i.spec.deal_id is not None},
        {i.spec.rep_id for i in items if i.spec.rep_id is not None},
    )
    results, events, claims = [], [], []
    now = ctx.clock.now()  # one batch, one transaction: recorded at one time
    for item in items:
        contact_id = contact_of[item.index]
        if item.event_id is not None and item.event_id in already_sent:
            results.append(ItemResult(item.index, "duplicate", already_sent[item.event_id]))
            continue
        try:
            if forgotten and str(contact_id) in forgotten:
                raise contacts.forgotten_refusal(contact_id)
            decided = _decide_item(ctx, item, contact_id, records, cmd.session_gap, now)
        except DomainError as error:
            results.append(item_error(item.index, error))
            continue
        events += decided
        assert contact_id is not None
        if item.event_id is not None:
            claims.append(Claim(EVENT_ID_SCOPE, item.event_id, contact_id))
            already_sent[item.event_id] = contact_id  # the same id again in this batch is a duplicate
        results.append(ItemResult(item.index, "accepted", contact_id))
    record = None
    if ctx.idempotency_key is not None:
        body = json.dumps({"batch": [r.body() for r in results]})
        record = IdempotencyRecord(ctx.actor, ctx.idempotency_key, ctx.fingerprint, 200, body)
    ctx.store.save(events, claims=claims, idempotency=record)
    # Remembered as they stand after the batch (those no item touched as they were loaded).
    ctx.store.fold_states([s for s in (*records.contacts.values(), *records.deals.values()) if s is not None])
    return results


def _decide_item(ctx: CommandContext, item: BatchItem, contact_id: UUID | None, records: _Records,
                 gap: timedelta, now: datetime) -> list[Event]:
    # Named by e-mail, an unknown e-mail and another team's contact are one answer to a rep.
    # The answer never repeats the address: it is kept under an Idempotency-Key, where
    # forgetting the person could not find it (the item's index says which one it was).
    named = ("contact_id", item.contact_id) if item.email is None else ("email", "with this e-mail")
    found = records.contacts.get(contact_id) if contact_id is not None else None
    contact = ctx.check_reference(Contact, named[1] or "", found, named[0], changed=True)
    spec = item.spec
    if spec.rep_id is not None and records.reps.get(spec.rep_id) is None:
        raise NotFound("rep", spec.rep_id, "rep_id")
    deal = None
    if spec.deal_id is not None:
        deal = ctx.check_reference(Deal, spec.deal_id, records.deals.get(spec.deal_id), "deal_id", changed=True)
    decided = _decide(ctx, contact, deal, spec, ctx.meta(item.occurred_at, now), gap)
    # Later items see this one (a session, a bounce, the next version).
    for event in decided:
        if isinstance(event, Deal.InteractionRecorded):
            records.deals[event.originator_id] = Deal.evolve(records.deals[event.originator_id], event)
        else:
            records.contacts[contact_id] = Contact.evolve(records.contacts[contact_id], event)
    return decided


def _email_key(email: str | None) -> str:
    return (email or "").strip().casefold()


def _first_answer(ctx: CommandContext) -> list[ItemResult] | None:
    """The answers already given to this batch's Idempotency-Key, if any."""
    stored = ctx.stored_answer("batch")
    if stored is None:
        return None
    return [
        ItemResult(r["index"], r["status"], UUID(r["id"]) if "id" in r else None, r.get("error")) for r in stored[1]["batch"]
    ]
