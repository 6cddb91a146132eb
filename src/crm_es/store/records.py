"""Records (aggregates) as the write side reads them from the log, with three small
caches that spare reads:

- the last state of each record loaded or saved here: the next load reads only the
  events after it (a contact tracked for years has thousands). Events never change, so a
  state at version v and the events after v make the current state;
- the hash of each loaded record's last event, so that saving its next event need not
  read it again under the write lock (a stale one is harmless: the next version is then
  taken, and the save fails on it);
- links that never change once recorded (a deal's pipeline), so that a command can read
  both records in one round trip.

Each starts over when full: forgetting costs a read, never a wrong answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from crm_es.aggregates.base import Aggregate, Event
from crm_es.store.chain import uuid_text
from crm_es.store.decoding import Decoder
from crm_es.store.values import Tail

A = TypeVar("A", bound=Aggregate)
CACHE_KEPT = 100_000  # entries in each cache before it starts over
# (id, version, topic, state, hash) of records' events after given versions, up to a version.
Since = Callable[[dict[UUID, int], int], list[tuple[UUID, int, str, bytes, bytes | None]]]


def _fold_as(cls: type[A], events: list[Event]) -> A | None:
    """The aggregate these events make, or None when there are none or they belong to
    another type of record (an id of another type's record is not found either)."""
    if not events or not cls.owns(events[0]):
        return None
    return cls.fold(events)


class Records:
    def __init__(self, since: Since, decoder: Decoder) -> None:
        self._since, self.decoder = since, decoder
        self._fixed_links: dict[UUID, UUID] = {}
        self._tails: dict[str, Tail] = {}
        self._states: dict[UUID, Aggregate] = {}

    def events(self, aggregate_id: UUID, *, lte: int | None = None) -> list[Event]:
        """The record's events in order (up to version ``lte``), personal fields opened."""
        return self.decoder.stored(self._select({aggregate_id: 0}, lte=lte))

    def load(self, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A | None:
        if version is not None:
            return _fold_as(cls, self.events(aggregate_id, lte=version))
        return self.load_many([(cls, aggregate_id)])[0]

    def load_many(self, wanted: Sequence[tuple[type[Aggregate], UUID]]) -> list[Any]:
        """Several aggregates read in one query (one round trip); None for each missing one.
        A record loaded before is read from where its remembered state stands."""
        since = {}
        for cls, aggregate_id in wanted:
            state = self._states.get(aggregate_id)
            since[aggregate_id] = state.version if isinstance(state, cls) else 0
        by_id: dict[UUID, list[Event]] = defaultdict(list)
        for event in self.decoder.stored(self._select(since)):
            by_id[event.originator_id].append(event)
        found = []
        for cls, aggregate_id in wanted:
            new = by_id.get(aggregate_id, [])
            if since[aggregate_id]:
                state = self._states[aggregate_id]
                for event in new:
                    state = cls.evolve(state, event)
            else:
                state = _fold_as(cls, new)
            if state is not None:
                self._remember_state(state)
            found.append(state)
        return found

    def fixed_link(self, child_id: UUID) -> UUID | None:
        return self._fixed_links.get(child_id)

    def remember_fixed_link(self, child_id: UUID, parent_id: UUID) -> None:
        if len(self._fixed_links) >= CACHE_KEPT:
            self._fixed_links.clear()
        self._fixed_links[child_id] = parent_id

    def known_tails(self, events: Sequence[Event]) -> dict[str, Tail]:
        """The remembered tails that the first event of each record in a save follows."""
        known: dict[str, Tail] = {}
        first_versions: dict[UUID, int] = {}
        for event in events:
            first_versions.setdefault(event.originator_id, event.originator_version)
        for originator_id, version in first_versions.items():
            key = uuid_text(originator_id)
            tail = self._tails.get(key)
            if tail is not None and tail[0] == version - 1:
                known[key] = tail
        return known

    def saved(self, events: Sequence[Event], states: Sequence[Aggregate], tails: dict[str, Tail]) -> None:
        """Remember what a committed save wrote: its records' new tails, and their states —
        ``states`` when the caller folded them already (a batch), else the remembered
        states moved on by the events."""
        if len(self._tails) + len(tails) > CACHE_KEPT:
            self._tails.clear()
        self._tails.update(tails)
        if states:
            for state in states:
                self._remember_state(state)
            return
        for event in events:
            state = self._states.get(event.originator_id)
            if state is not None and state.version == event.originator_version - 1:
                self._states[event.originator_id] = type(state).evolve(state, event)

    def _remember_state(self, state: Aggregate) -> None:
        if len(self._states) >= CACHE_KEPT and state.id not in self._states:
            self._states.clear()
        self._states[state.id] = state

    def _select(self, since: dict[UUID, int], lte: int | None = None) -> list[StoredEvent]:
        """The stored events of these records after the given versions (0: all), each
        record's in version order; the tails read are remembered (unless cut at ``lte``)."""
        rows = self._since(since, lte if lte is not None else 2**62)
        if lte is None:
            if len(self._tails) >= CACHE_KEPT:
                self._tails.clear()
            for originator_id, version, _, _, digest in rows:  # in version order: the last one stays
                if digest is not None:
                    self._tails[str(originator_id)] = (version, bytes(digest))
        return [StoredEvent(*r[:4]) for r in rows]
