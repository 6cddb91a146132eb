"""Funnel and velocity computed in plain Python from the event store's events: the
reference the DuckDB reports are held against (tests/properties/test_analytics_laws.py).

Deliberately written from the definitions, not from the SQL: each deal's events are
folded one by one; a *transition* is a change of its stage or status; a stay runs from
a transition into an open stage to the next transition. A deal is *opened* by its first
event, so its first stay is its opening, whatever stays follow at the same instant (an
import opens a deal and moves it at one instant).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates import Deal, Pipeline
from crm_es.aggregates.base import Event
from crm_es.audit.board import streams as replayed
from crm_es.queries.analytics.period import Period


@dataclass
class Stay:
    deal_id: UUID
    stage_id: UUID
    owner_id: UUID | None
    entered_at: datetime
    opened_at: datetime
    left_at: datetime | None = None
    outcome: str | None = None
    won_amount: tuple[str, Decimal] | None = None
    opening: bool = False  # the stay the deal was opened into


def _places(events: list[Event]) -> dict[UUID, tuple[int, str]]:
    """Each stage's last place and name, over every version of the pipeline."""
    places: dict[UUID, tuple[int, str]] = {}
    state = None
    for event in events:
        state = Pipeline.evolve(state, event)
        for index, stage in enumerate(state.stages):
            places[stage.id] = (index, stage.name)
    return places


def stays(store: Any, pipeline_id: UUID, known_at: datetime | None) -> tuple[list[Stay], dict[UUID, tuple[int, str]]]:
    streams = replayed(store)
    places = _places(streams[pipeline_id])
    found: list[Stay] = []
    for events in streams.values():
        if not Deal.owns(events[0]):
            continue
        known = [e for e in events if known_at is None or e.timestamp <= known_at]
        state, at, opened_at, current, previous = None, None, None, None, None
        for event in known:
            state = Deal.evolve(state, event)
            if not event.changes_state:
                continue
            at = event.occurred_at if at is None else max(at, event.occurred_at)
            opened_at = opened_at or at
            if previous is not None and (state.stage_id, state.status) == previous:
                continue
            previous = (state.stage_id, state.status)
            if current is not None:  # the stay it was in ends here
                current.left_at = at
                if state.status in ("won", "lost"):
                    current.outcome = state.status
                    if state.status == "won":
                        current.won_amount = (state.currency, state.amount)
                else:
                    current.outcome = "advanced" if places[state.stage_id][0] > places[current.stage_id][0] else "slipped_back"
                current = None
            if state.status == "open":
                current = Stay(state.id, state.stage_id, state.owner_id, at, opened_at, opening=isinstance(event, Deal.Opened))
                found.append(current)
        if state is not None and state.pipeline_id != pipeline_id:
            found = [s for s in found if s.deal_id != state.id]
    return found, places


def _as_of(all_stays: list[Stay], period: Period) -> list[Stay]:
    """What had happened by as_of: stays entered by then, outcomes only if by then."""
    if period.as_of is None:
        return all_stays
    seen = []
    for s in all_stays:
        if s.entered_at > period.as_of:
            continue
        if s.left_at is not None and s.left_at > period.as_of:
            s = Stay(s.deal_id, s.stage_id, s.owner_id, s.entered_at, s.opened_at, opening=s.opening)
        seen.append(s)
    return seen


def _key(stay: Stay, by: str | None) -> str | None:
    return None if by is None or stay.owner_id is None else str(stay.owner_id)


def funnel(store: Any, pipeline_id: UUID, period: Period, by: str | None) -> dict[str | None, dict[str, Any]]:
    all_stays, places = stays(store, pipeline_id, period.known_at)
    here = _as_of(all_stays, period)
    won_deals = {s.deal_id for s in here if s.outcome == "won"}
    groups: dict[str | None, dict[str, Any]] = {}
    for s in here:
        if not period.start <= s.entered_at < period.end:
            continue
        g = groups.setdefault(_key(s, by), {"stages": defaultdict(lambda: defaultdict(int)), "opened": 0, "won": 0})
        counts = g["stages"][places[s.stage_id][1]]
        counts["entered"] += 1
        counts[s.outcome or "still_there"] += 1
        if s.opening:
            g["opened"] += 1
            g["won"] += s.deal_id in won_deals
    return groups


def velocity(store: Any, pipeline_id: UUID, period: Period, by: str | None) -> dict[str | None, dict[str, Any]]:
    all_stays, places = stays(store, pipeline_id, period.known_at)
    here = _as_of(all_stays, period)
    groups: dict[str | None, dict[str, Any]] = defaultdict(lambda: {"days": defaultdict(list), "won": 0, "lost": 0,
                                                                     "to_close": [], "amounts": defaultdict(list), "opened": set()})
    for s in here:
        g = groups[_key(s, by)]
        if s.opening and period.start <= s.entered_at < period.end:
            g["opened"].add(s.deal_id)
        if s.outcome is None or not period.start <= s.left_at < period.end:
            continue
        g["days"][places[s.stage_id][1]].append((s.left_at - s.entered_at).total_seconds() / 86400)
        if s.outcome in ("won", "lost"):
            g[s.outcome] += 1
        if s.outcome == "won":
            g["to_close"].append((s.left_at - s.opened_at).total_seconds() / 86400)
            currency, amount = s.won_amount
            g["amounts"][currency].append(amount)
    out = {}
    for key, g in groups.items():
        closed = g["won"] + g["lost"]
        win_rate = None if closed == 0 else round(g["won"] / closed, 4)
        cycle = statistics.mean(g["to_close"]) if g["to_close"] else None
        out[key] = {
            "stages": {name: (len(d), statistics.mean(d), statistics.median(d)) for name, d in g["days"].items()},
            "won": g["won"], "lost": g["lost"], "win_rate": win_rate, "opened": len(g["opened"]),
            "average_days_to_close": cycle,
            "median_days_to_close": statistics.median(g["to_close"]) if g["to_close"] else None,
            "amounts": {c: (len(a), sum(a) / len(a)) for c, a in g["amounts"].items()},
        }
    return out
