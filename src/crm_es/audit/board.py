"""The pipeline board at a past moment, replayed from the event store itself: every
deal's and the pipeline's events up to then, folded by the aggregates. The read side's
history tables answer the same question in one SQL statement; this is what they are
held against (the hypothesis laws, and the benchmark's baseline).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from crm_es.aggregates import Deal, Pipeline
from crm_es.aggregates.base import Event
from crm_es.aggregates.deal import OPEN
from crm_es.audit.history import visible
from crm_es.queries.board import stage_column
from crm_es.queries.past import Past

_ENTERS_STAGE = (Deal.Opened, Deal.StageChanged, Deal.Reopened)


def streams(store: Any) -> dict[UUID, list[Event]]:
    """Every deal's and pipeline's events, replayed from the store, by record, in order."""
    nested = [*vars(Deal).values(), *vars(Pipeline).values()]
    topics = {get_topic(c) for c in nested if isinstance(c, type) and issubclass(c, Event)}
    by_record: dict[UUID, list[Event]] = defaultdict(list)
    for event in store.replay(topics):
        by_record[event.originator_id].append(event)
    return by_record


def board_then(store: Any, pipeline_id: UUID, past: Past, currency: str | None = None) -> dict[str, Any]:
    """``{"currency", "stages"}`` as ``GET /pipelines/{id}/board?as_of=&known_at=`` shows them."""
    records = streams(store)
    pipeline = Pipeline.fold(_seen(records.get(pipeline_id, []), past))
    deals, currencies = [], []
    for events in records.values():
        if not Deal.owns(events[0]):
            continue
        known = Deal.fold(visible(events, None, past.known_at))  # the deal as known then, whatever its date
        if known is not None and known.pipeline_id == pipeline_id:
            currencies.append(known.currency)
        seen = _seen(events, past)
        deal = Deal.fold(seen)
        if deal is None or deal.pipeline_id != pipeline_id or deal.status != OPEN:
            continue
        entered = max(e.occurred_at for e in seen if isinstance(e, _ENTERS_STAGE))
        deals.append({"id": str(deal.id), "title": deal.details.title, "amount": deal.amount, "currency": deal.currency,
                      "owner_id": None if deal.owner_id is None else str(deal.owner_id), "stage_id": deal.stage_id,
                      "stage_entered_at": entered})
    deals.sort(key=lambda d: (d["stage_entered_at"], d["id"]))
    currency = currency or _most_used(currencies)
    stages = [] if pipeline is None else [
        stage_column({"stage_id": str(s.id), "name": s.name, "probability": s.probability},
                     [_shown(d) for d in deals if d["stage_id"] == s.id], currency)
        for s in pipeline.stages
    ]
    return {"currency": currency, "stages": stages}


def _seen(events: list[Event], past: Past) -> list[Event]:
    return visible(events, past.as_of, past.known_at)


def _most_used(currencies: list[str]) -> str | None:
    """The board's default currency: the one most of the pipeline's deals are in, over its
    whole history as known then (so it does not change from one date to the next)."""
    counts: dict[str, int] = defaultdict(int)
    for currency in currencies:
        counts[currency] += 1
    return min(counts, key=lambda c: (-counts[c], c)) if counts else None


def _shown(deal: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in deal.items() if k != "stage_id"}
    shown["stage_entered_at"] = deal["stage_entered_at"].isoformat()
    return shown

