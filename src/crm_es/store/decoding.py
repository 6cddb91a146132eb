"""Stored events made readable: as domain events, or as plain JSON dicts in today's shape,
their personal fields opened with their subjects' keys (one query for all the keys) —
or None where the person has been forgotten."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from crm_es.aggregates.base import Event
from crm_es.store import personal
from crm_es.store.codec import TypedMapper, event_class
from crm_es.store.keys import SubjectKeys
from crm_es.store.values import RawEvent


class Decoder:
    def __init__(self, mapper: TypedMapper, keys: SubjectKeys) -> None:
        self.mapper, self.keys = mapper, keys

    def stored(self, stored: Sequence[StoredEvent]) -> list[Any]:
        """Domain events of the library's stored events."""
        states = [(stored_event, *self.mapper.state_of(stored_event)) for stored_event in stored]
        keys = self.keys.for_reading(
            {s for e, cls, state in states if (s := personal.sealed_subject(cls, state, e.originator_id)) is not None}
        )
        return [
            self.mapper.build(cls, e, personal.open_state(cls, state, e.originator_id, keys)) for e, cls, state in states
        ]

    def raw(self, rows: Sequence[RawEvent]) -> list[Event]:
        """Domain events of the rows the log's reads give."""
        return self.stored([StoredEvent(UUID(r.originator_id), r.version, r.topic, r.state) for r in rows])

    def open_states(self, rows: Sequence[RawEvent]) -> list[dict[str, Any]]:
        """The stored states as plain JSON dicts in today's shape (upcast)."""
        keys = self.keys_for(rows)
        opened = []
        for row in rows:
            cls = event_class(row.topic)
            opened.append(personal.readable(cls, orjson.loads(row.state), row.originator_id, keys))
        return opened

    def keys_for(self, rows: Sequence[RawEvent]) -> dict[str, bytes]:
        """The keys that open these stored events' personal fields (one query)."""
        subjects = {
            s for row in rows if (s := personal.raw_subject(event_class(row.topic), row.originator_id, row.state)) is not None
        }
        return self.keys.for_reading(subjects)
