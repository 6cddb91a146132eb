"""One object for everything the service asks of the event store: a facade over the
concerns (records.py, decoding.py, claims.py, keys.py, tracking.py, outbox.py,
api_keys.py) and the backend in use (sqlite/ or postgres/), chosen here, once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.utils import get_topic

from crm_es.aggregates.base import Aggregate, Event
from crm_es.store import personal
from crm_es.store.api_keys import ApiKeyTable
from crm_es.store.chain import ChainRow
from crm_es.store.claims import ClaimDigests
from crm_es.store.codec import OrjsonTranscoder, TypedMapper
from crm_es.store.decoding import Decoder
from crm_es.store.group_commit import GroupCommit
from crm_es.store.keys import SubjectForgotten, SubjectKeys
from crm_es.store.outbox import Outbox
from crm_es.store.pg_pool import prepare_for_outages
from crm_es.store.pools import prepare_sqlite_pool
from crm_es.store.postgres.backend import PostgresBackend
from crm_es.store.postgres.recorder import CrmPostgresRecorder
from crm_es.store.records import Records
from crm_es.store.sqlite.backend import SQLiteBackend
from crm_es.store.sqlite.recorder import CrmSQLiteRecorder
from crm_es.store.tracking import PolicyPlaces
from crm_es.store.values import (
    Claim,
    IdempotencyRecord,
    RawEvent,
    SideDatabase,
    StoreUnavailable,
    Tracking,
    Write,
)

A = TypeVar("A", bound=Aggregate)

__all__ = ["Claim", "EventStore", "IdempotencyRecord", "IntegrityError", "RawEvent", "StoreUnavailable", "SubjectForgotten",
           "Tracking"]

BACKENDS = {"eventsourcing.sqlite": SQLiteBackend, "eventsourcing.postgres": PostgresBackend}


class CrmApplication(Application):
    name = "crm"  # PostgreSQL tables: crm_events, crm_events_idempotency_keys, ...

    def construct_mapper(self) -> TypedMapper:
        return TypedMapper(transcoder=OrjsonTranscoder())

    def construct_factory(self, env: Any) -> Any:
        factory = super().construct_factory(env)
        prepare_for_outages(factory)  # PostgreSQL's pool: quick 503s and quick recovery (store/pg_pool.py)
        prepare_sqlite_pool(factory)  # a connection per thread; readers never queue behind writers (store/pools.py)
        return factory


def sqlite_env(path: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": get_topic(CrmSQLiteRecorder),
    }


def postgres_env(url: str, schema: str | None = None) -> dict[str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_LOCK_TIMEOUT": "10",
        # Off on purpose: with it on, two applications in one schema share one function.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "",
        "APPLICATION_RECORDER_TOPIC": get_topic(CrmPostgresRecorder),
    }
    chosen_schema = schema or (query.get("schema") or [None])[0]
    if chosen_schema:
        env["POSTGRES_SCHEMA"] = chosen_schema
    return env


class EventStore:
    """The write side's only door: load aggregates, save events, follow the log.

    Its parts, for what has no method here: ``keys`` (the persons' keys), ``tracking``
    (the policies' places and errors), ``outbox`` (the messages' delivery state),
    ``api_keys`` (their table). ``backend`` names the database: "sqlite" or "postgresql".
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        try:
            self.app = CrmApplication(env=env)
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        self.recorder: Any = self.app.recorder
        self.mapper: TypedMapper = self.app.mapper  # type: ignore[assignment]
        self.db = BACKENDS[env["PERSISTENCE_MODULE"]](self.recorder, env)
        self.backend: str = self.db.name
        self.is_postgres = self.backend == "postgresql"
        self.side_tables = self.db.tables  # SQL written once for both backends (store/side_tables.py)
        self.keys = SubjectKeys(self.side_tables)
        self.claim_digests = ClaimDigests(self.side_tables, self.db.claims)  # after the key table: its secret is there
        self.decoder = Decoder(self.mapper, self.keys)
        self.records = Records(self.db.log.since, self.decoder)
        self.tracking = PolicyPlaces(self.side_tables)
        self.outbox = Outbox(self.side_tables)
        self.api_keys = ApiKeyTable(self.side_tables)
        self._listeners: list[Callable[[int], None]] = []
        self.group_commit = GroupCommit(self.recorder.append_group)  # saves arriving together share a commit

    # --- the write side -------------------------------------------------------------

    def events(self, aggregate_id: UUID, *, lte: int | None = None) -> list[Event]:
        """The record's events in order (up to version ``lte``), personal fields opened."""
        return self.records.events(aggregate_id, lte=lte)

    def load(self, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A | None:
        """The aggregate folded from its events, or None when there is no such record
        of this type (an id of another type's record is not found either)."""
        return self.records.load(cls, aggregate_id, version=version)

    def load_many(self, wanted: Sequence[tuple[type[Aggregate], UUID]]) -> list[Any]:
        """Several aggregates read in one query (one round trip); None for each missing one."""
        return self.records.load_many(wanted)

    def fixed_link(self, child_id: UUID) -> UUID | None:
        return self.records.fixed_link(child_id)

    def remember_fixed_link(self, child_id: UUID, parent_id: UUID) -> None:
        self.records.remember_fixed_link(child_id, parent_id)

    def save(
        self,
        events: Sequence[Event],
        *,
        idempotency: IdempotencyRecord | None = None,
        claims: Sequence[Claim] = (),
        releases: Sequence[Claim] = (),
        states: Sequence[Aggregate] = (),
        tracking: Tracking | None = None,
        outbox: Sequence[tuple[Any, ...]] = (),
    ) -> int | None:
        """Append in one transaction — shared with the saves arriving at the same moment
        (group commit: store/group_commit.py); returns the position of the last event written.

        Raises IntegrityError when another writer got there first (a version taken,
        an idempotency key or a claim already held), SubjectForgotten when an event
        holds personal data of a forgotten person: nothing is written then.
        With no events, only the idempotency record is kept (pointing at the log's end),
        so a retry of a command that changed nothing still gets its first answer.
        ``states``: the records' states after these events, when the caller has folded
        them already; otherwise the states remembered here are moved on by the events.
        ``tracking`` and ``outbox`` (rows of schema.OUTBOX_COLUMNS) are a policy's: its
        new place in the log and its messages' delivery state, in the same transaction.
        """
        if not events:
            assert not claims and not releases, "a claim changes only with the events that need it"
            if tracking is None and not outbox and idempotency is None:
                return None
        # Sealed here, in the caller's thread: the leader of a group only writes.
        write = Write(self._stored(events), idempotency, self.claim_digests.claims(claims),
                      self.claim_digests.claims(releases), self.records.known_tails(events), tracking, outbox)
        appended = self.group_commit.write(write)
        if not events:
            return None
        self.records.saved(events, states, appended.tails)
        position = max(appended.positions)
        for listener in self._listeners:
            listener(position)
        return position

    def _stored(self, events: Sequence[Event]) -> list[StoredEvent]:
        """The events as stored: personal fields sealed with their subject's key."""
        seal = None
        subjects = {personal.needs_key(e) for e in events}
        subjects.discard(None)
        if subjects:
            seal = personal.Sealer(self.keys.for_writing(subjects)).seal_state
        to_stored = self.mapper.to_stored_event
        return [to_stored(e, seal) for e in events]

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after each save in this process (wakes the projector)."""
        self._listeners.append(listener)

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        return self.db.claims.find_idempotency(scope, key)

    def claim_owner(self, scope: str, value: str) -> str | None:
        return self.claim_digests.owner(scope, value)

    def claim_owners(self, scope: str, values: Collection[str]) -> dict[str, str]:
        """Who holds each of these values, for those held: ``claim_owner`` for a batch."""
        return self.claim_digests.owners(scope, values)

    # --- policies' places in the log and their outbox ----------------------------

    def tracked_position(self, name: str) -> int:
        """Where a policy has read the log up to. A policy met for the first time starts at
        the log's end: it reacts to what happens once it is installed, not to the past."""
        return self.tracking.position(name, self.max_position)

    def write_policy_rows(self, tracking: Tracking | None, outbox: Sequence[tuple[Any, ...]] = ()) -> None:
        """A policy's place and outbox rows with no event (events go through ``save``)."""
        self.save((), tracking=tracking, outbox=outbox)

    # --- following the log ----------------------------------------------------------

    def max_position(self) -> int:
        return self.db.log.end()

    def read(self, after: int, limit: int) -> list[RawEvent]:
        """Stored events after ``after``, in log order; plain SQL, no decoding (the fast
        path for projections: the library's mapper decodes one event at a time)."""
        return self.db.log.read(after, limit)

    def decode(self, rows: Sequence[RawEvent]) -> list[Event]:
        """Stored events as domain events, personal fields opened (None where forgotten)."""
        return self.decoder.raw(rows)

    def replay(self, topics: Collection[str], page: int = 10_000) -> Iterator[Event]:
        """Every event of these topics, in log order, decoded: what an auditor's replay
        of many records reads (the read side is held against it)."""
        after = 0
        while rows := self.read(after, page):
            after = rows[-1].position
            yield from self.decode([r for r in rows if r.topic in topics])

    def open_states(self, rows: Sequence[RawEvent]) -> list[dict[str, Any]]:
        """The stored states as plain JSON dicts in today's shape (upcast), with the
        personal fields opened — or None where the person has been forgotten."""
        return self.decoder.open_states(rows)

    def record_events(self, record_id: UUID, after_version: int, limit: int,
                      topics: Collection[str] | None = None) -> list[RawEvent]:
        """One record's stored events after a version, in version order, with their
        positions; only those of these topics when given (a timeline's page)."""
        return self.db.log.record_events(record_id, after_version, limit, topics)

    def states_at(self, positions: Collection[int]) -> dict[int, dict[str, Any]]:
        """The stored events at these log positions, as ``open_states`` gives them: what the
        news feed shows of each (the read side keeps where they are, the store what they say)."""
        wanted = sorted(set(positions))
        if not wanted:
            return {}
        rows = self.db.log.at(wanted)
        return {row.position: state for row, state in zip(rows, self.open_states(rows), strict=True)}

    def keys_for(self, rows: Sequence[RawEvent]) -> dict[str, bytes]:
        """The keys that open these stored events' personal fields (one query)."""
        return self.decoder.keys_for(rows)

    @property
    def channel(self) -> str | None:
        """The PostgreSQL NOTIFY channel the library signals on each insert."""
        return self.db.channel

    def follow_inserts(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """Call ``wake()`` on each insert into the log (by any process), until ``stop`` is
        set: a PostgreSQL store's NOTIFY. Returns at once on SQLite (no such signal: the
        followers poll)."""
        self.db.follow_inserts(stop, wake)

    def close(self) -> None:
        self.app.close()

    # --- the audit trail (see crm_es.audit) --------------------------------------------

    def chain(self, after: int, limit: int) -> list[ChainRow]:
        """Stored events after position ``after``, in log order, with their hash links."""
        return self.db.log.chain(after, limit)

    def record_chain(self, aggregate_id: UUID) -> list[ChainRow]:
        """One record's stored events, in version order, with their hash links."""
        return self.db.log.record_chain(aggregate_id)

    def positions_with_hash(self, digest: bytes) -> list[int]:
        return self.db.log.positions_with_hash(digest)

    # --- what the service keeps beside the store --------------------------------------

    @property
    def address(self) -> str:
        """Which store this is: the same text in every process on it."""
        return self.db.address

    def leader_lock(self, name: str, lock_file: Path) -> Any:
        """A lock one process at a time holds on this store (``try_acquire``, ``still_held``,
        ``release``): an advisory lock on PostgreSQL, ``lock_file`` on SQLite."""
        return self.db.leader_lock(name, lock_file)

    def side_database(self, file: Path) -> SideDatabase:
        """Where a library may keep tables of its own: the store's PostgreSQL schema, or
        ``file`` beside a SQLite store."""
        return self.db.side_database(file)
