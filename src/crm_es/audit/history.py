"""A record as it was at a past moment, computed from the event store itself (not
from the read side): its events, filtered by time, folded by the aggregate.

Two times, as everywhere (see DESIGN.md): ``as_of`` is business time — the events
that had happened by then (``occurred_at``), back-dated ones included; ``known_at`` is
recorded time — what the system knew at that moment (the events recorded by then).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from crm_es.aggregates.base import Aggregate, Event
from crm_es.store.codec import dumps

# Fields every event has; the rest of an event is its own data.
_ENVELOPE = ("originator_id", "originator_version", "timestamp", "occurred_at", "actor", "correlation_id", "causation_id")


def record_then(
    store: Any, cls: type[Aggregate], record_id: UUID, *, as_of: datetime | None = None, known_at: datetime | None = None
) -> dict[str, Any] | None:
    """The record's state then, its version and the events that made it; None when no
    record of this type has this id. A record created later answers ``state: null``."""
    events = store.events(record_id)
    if not events or not cls.owns(events[0]):
        return None
    made_it = visible(events, as_of, known_at)
    state = cls.fold(made_it)
    return {
        "id": str(record_id),
        "as_of": None if as_of is None else as_of.isoformat(),
        "known_at": None if known_at is None else known_at.isoformat(),
        "version": 0 if state is None else state.version,
        "state": None if state is None else plain(dataclasses.asdict(state)),
        "events": [describe(event) for event in made_it],
    }


def visible(events: list[Event], as_of: datetime | None, known_at: datetime | None) -> list[Event]:
    """A record's events (in version order) that make its state at that moment."""
    if known_at is not None:  # recorded in version order: what was known is a prefix
        known = 0
        while known < len(events) and events[known].timestamp <= known_at:
            known += 1
        events = events[:known]
    if as_of is not None:  # business time may be back-dated: a filter, not a prefix
        events = [event for event in events if event.occurred_at <= as_of]
    # A record that did not exist yet has no state, whatever later facts were back-dated.
    return events if events and events[0].originator_version == 1 else []


def describe(event: Event) -> dict[str, Any]:
    fields = vars(event)
    return {
        "version": event.originator_version,
        "type": type(event).__qualname__,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.timestamp.isoformat(),
        "actor": event.actor,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "data": plain({name: value for name, value in fields.items() if name not in _ENVELOPE}),
    }


def plain(value: Any) -> Any:
    """JSON values, as the store writes them: money stays an exact decimal string,
    times keep their offset."""
    return orjson.loads(dumps(value))
