"""What the store takes and gives: plain values, shared by the facade (event_store.py)
and both backends (sqlite/, postgres/), which therefore cannot define them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import StoredEvent

Tail = tuple[int, bytes]  # a record's last stored event: (version, hash)


class StoreUnavailable(Exception):
    """The event store could not be reached (answers 503)."""


class Claim(NamedTuple):  # a tuple: a tracking batch makes one per item
    """A value only one record may hold at a time (scope 'contact-email', say). The store
    keeps a keyed digest of the value, never the value (``crm_es.store.claims``)."""

    scope: str
    value: str
    owner_id: UUID


class Tracking(NamedTuple):
    """A policy moving its place in the log from ``after`` to ``position``: saved with
    the events it reacted with, it fails (IntegrityError) if the place moved meanwhile."""

    name: str
    after: int
    position: int


@dataclass(frozen=True)
class IdempotencyRecord:
    scope: str
    key: str
    fingerprint: str
    status: int
    body: str  # JSON of the answer; the recorder adds the position it reached


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A stored event as the projector reads it: no decoding beyond the columns."""

    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes


class Appended(NamedTuple):
    """What a save wrote: the events' positions, and each record's new tail (its last
    event's version and hash), for the record tails cache once the save has committed."""

    positions: list[int]
    tails: dict[str, Tail]


@dataclass(frozen=True, slots=True)
class Write:
    """What one save writes — events and their side rows — as the recorder takes it: one
    writer's share of a group commit, which lands whole or not at all whatever the other
    writes in the same transaction do. ``claims``/``releases`` hold digests already;
    ``known_tails``: record tails the caller read with the records (not read again under
    the lock); ``outbox``: rows of schema.OUTBOX_COLUMNS."""

    events: Sequence[StoredEvent]
    idempotency: IdempotencyRecord | None = None
    claims: Sequence[Claim] = ()
    releases: Sequence[Claim] = ()
    known_tails: dict[str, Tail] = field(default_factory=dict)
    tracking: Tracking | None = None
    outbox: Sequence[tuple[Any, ...]] = ()


class LockUnknown(Exception):
    """Whether a lock is free could not be asked (the database or the lock file could not
    be reached): the message says why, in one line."""


@dataclass(frozen=True)
class SideDatabase:
    """Where a library keeps tables of its own beside the store (APScheduler's jobs)."""

    url: Any  # SQLAlchemy's: text, or a URL object (its password is not written out as text)
    schema: str | None
    remote: bool  # a server that may be out of reach for a while, not a local file
