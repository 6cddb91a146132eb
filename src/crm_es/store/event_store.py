"""One object for everything the service asks of the event store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from crm_es.aggregates.base import Aggregate, Event
from crm_es.audit.chain import ChainRow, uuid_text
from crm_es.store import personal
from crm_es.store.claims import ClaimDigests
from crm_es.store.codec import OrjsonTranscoder, TypedMapper, event_class
from crm_es.store.keys import SubjectForgotten, SubjectKeys
from crm_es.store.pg_pool import prepare_for_outages
from crm_es.store.recorders import MOVE_TRACKING, UPSERT_OUTBOX, CrmPostgresRecorder, CrmSQLiteRecorder, moved_elsewhere
from crm_es.store.side_tables import SideTables

A = TypeVar("A", bound=Aggregate)

__all__ = ["Claim", "EventStore", "IdempotencyRecord", "IntegrityError", "RawEvent", "StoreUnavailable", "SubjectForgotten",
           "Tracking"]


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


CLAIMS_CHUNK = 500  # values (claims, positions) per query on SQLite (it allows 32,766 parameters; plans stay small)
SQLITE_PAIRS = 10_000  # (id, version) pairs per query: 2 parameters each, under SQLite's 32,766
CACHE_KEPT = 100_000  # entries in each of the store's small caches before it starts over


def _rowcount(cursor: Any) -> int:
    """Rows the last statement changed (the library's SQLite cursor wraps sqlite3's)."""
    return getattr(cursor, "sqlite_cursor", cursor).rowcount


def _fold_as(cls: type[A], events: list[Event]) -> A | None:
    """The aggregate these events make, or None when there are none or they belong to
    another type of record (an id of another type's record is not found either)."""
    if not events or not cls.owns(events[0]):
        return None
    return cls.fold(events)


class CrmApplication(Application):
    name = "crm"  # PostgreSQL tables: crm_events, crm_events_idempotency_keys, ...

    def construct_mapper(self) -> TypedMapper:
        return TypedMapper(transcoder=OrjsonTranscoder())

    def construct_factory(self, env: Any) -> Any:
        factory = super().construct_factory(env)
        prepare_for_outages(factory)  # PostgreSQL's pool: quick 503s and quick recovery (store/pg_pool.py)
        return factory


def sqlite_env(path: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": get_topic(CrmSQLiteRecorder),
    }


def postgres_env(url: str, schema: str | None = None) -> dict[str, str]:
    from urllib.parse import parse_qs, unquote, urlsplit

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
    """The write side's only door: load aggregates, save events, follow the log."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.is_postgres = env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        try:
            self.app = CrmApplication(env=env)
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        self.recorder: Any = self.app.recorder
        self.mapper: TypedMapper = self.app.mapper  # type: ignore[assignment]
        self.keys = SubjectKeys(self.recorder, self.is_postgres)
        self.claim_digests = ClaimDigests(self.recorder, self.is_postgres)  # after the key table: its secret is there
        self.side_tables = SideTables(self.recorder, self.is_postgres)
        self._listeners: list[Callable[[int], None]] = []
        # Links that never change once recorded (a deal's pipeline), remembered so that a
        # command can read both records in one round trip.
        self._fixed_links: dict[UUID, UUID] = {}
        # The hash of each loaded record's last event, so that saving its next event need
        # not read it again under the write lock (a stale one is harmless: the next
        # version is then taken, and the save fails on it).
        self._record_tails: dict[str, tuple[int, bytes]] = {}
        # The last state of each record loaded or saved here: the next load reads only the
        # events after it (a contact tracked for years has thousands). Events never change,
        # so a state at version v and the events after v make the current state.
        self._states: dict[UUID, Aggregate] = {}

    # --- the write side -------------------------------------------------------------

    def events(self, aggregate_id: UUID, *, lte: int | None = None) -> list[Event]:
        """The record's events in order (up to version ``lte``), personal fields opened."""
        return self._decode(self._select_many({aggregate_id: 0}, lte=lte))

    def _decode(self, stored: Sequence[StoredEvent]) -> list[Any]:
        """Domain events, with the personal fields opened by their subjects' keys (one
        query for all the keys) — or None where the person has been forgotten."""
        states = [(stored_event, *self.mapper.state_of(stored_event)) for stored_event in stored]
        keys = self.keys.for_reading(
            {s for e, cls, state in states if (s := personal.sealed_subject(cls, state, e.originator_id)) is not None}
        )
        return [
            self.mapper.build(cls, e, personal.open_state(cls, state, e.originator_id, keys)) for e, cls, state in states
        ]

    def load(self, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A | None:
        """The aggregate folded from its events, or None when there is no such record
        of this type (an id of another type's record is not found either)."""
        if version is not None:
            return _fold_as(cls, self.events(aggregate_id, lte=version))
        return self.load_many([(cls, aggregate_id)])[0]

    def fixed_link(self, child_id: UUID) -> UUID | None:
        return self._fixed_links.get(child_id)

    def remember_fixed_link(self, child_id: UUID, parent_id: UUID) -> None:
        if len(self._fixed_links) >= CACHE_KEPT:
            self._fixed_links.clear()  # a cache: forgetting costs one extra read
        self._fixed_links[child_id] = parent_id

    def load_many(self, wanted: Sequence[tuple[type[Aggregate], UUID]]) -> list[Any]:
        """Several aggregates read in one query (one round trip); None for each missing one.
        A record loaded before is read from where its remembered state stands."""
        since = {}
        for cls, aggregate_id in wanted:
            state = self._states.get(aggregate_id)
            since[aggregate_id] = state.version if isinstance(state, cls) else 0
        by_id: dict[UUID, list[Event]] = defaultdict(list)
        for event in self._decode(self._select_many(since)):
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

    def _remember_state(self, state: Aggregate) -> None:
        if len(self._states) >= CACHE_KEPT and state.id not in self._states:
            self._states.clear()  # a cache: forgetting costs one full read
        self._states[state.id] = state

    def _select_many(self, since: dict[UUID, int], lte: int | None = None) -> list[StoredEvent]:
        """The stored events of these records after the given versions (0: all), each
        record's in version order."""
        top = lte if lte is not None else 2**62
        ids, after = list(since), list(since.values())
        if self.is_postgres:
            datastore = self.recorder.datastore
            # One index range per record (LATERAL): a join of thousands of ids could make the
            # planner scan the whole table, slower and slower as the log grows.
            statement = SQL(
                "SELECT w.id, e.originator_version, e.topic, e.state, e.hash "
                "FROM unnest(%s::{}[], %s::bigint[]) AS w(id, v) CROSS JOIN LATERAL ("
                "SELECT originator_version, topic, state, hash FROM {}.{} "
                "WHERE originator_id = w.id AND originator_version > w.v AND originator_version <= %s) AS e "
                "ORDER BY w.id, e.originator_version"
            ).format(Identifier(datastore.originator_id_type), Identifier(datastore.schema),
                     Identifier(self.recorder.events_table_name))
            with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
                curs.execute(statement, (ids, after, top), prepare=True)
                rows = [(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in curs.fetchall()]
        else:
            rows = []
            with self.recorder.datastore.transaction(commit=False) as c:
                for start in range(0, len(ids), SQLITE_PAIRS):
                    chunk = ids[start:start + SQLITE_PAIRS]
                    c.execute(
                        f"WITH w(id, v) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                        "SELECT e.originator_id, e.originator_version, e.topic, e.state, e.hash "
                        f"FROM {self.recorder.events_table_name} e JOIN w ON e.originator_id = w.id "
                        "AND e.originator_version > w.v WHERE e.originator_version <= ? "
                        "ORDER BY e.originator_id, e.originator_version",
                        [*(p for i in chunk for p in (i.hex, since[i])), top],
                    )
                    rows += [(UUID(r[0]), r[1], r[2], r[3], r[4]) for r in c.fetchall()]
        if lte is None:
            self._remember_tails(rows)
        return [StoredEvent(*r[:4]) for r in rows]

    def _remember_tails(self, rows: list[tuple[UUID, int, str, bytes, bytes | None]]) -> None:
        if len(self._record_tails) >= CACHE_KEPT:
            self._record_tails.clear()  # a cache: forgetting costs one read under the lock
        for originator_id, version, _, _, digest in rows:  # in version order: the last one stays
            if digest is not None:
                self._record_tails[str(originator_id)] = (version, bytes(digest))

    def _remember_new_tails(self, tails: dict[str, tuple[int, bytes]]) -> None:
        """The hashes this save gave its records' last events: their next save need not
        read them under the lock."""
        if len(self._record_tails) + len(tails) > CACHE_KEPT:
            self._record_tails.clear()
        self._record_tails.update(tails)

    def _known_tails(self, events: Sequence[Event]) -> dict[str, tuple[int, bytes]]:
        known: dict[str, tuple[int, bytes]] = {}
        first_versions: dict[UUID, int] = {}
        for event in events:  # each record's first event in this save follows its tail
            first_versions.setdefault(event.originator_id, event.originator_version)
        for originator_id, version in first_versions.items():
            key = uuid_text(originator_id)
            tail = self._record_tails.get(key)
            if tail is not None and tail[0] == version - 1:
                known[key] = tail
        return known

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
        """Append in one transaction; returns the position of the last event written.

        Raises IntegrityError when another writer got there first (a version taken,
        an idempotency key or a claim already held), SubjectForgotten when an event
        holds personal data of a forgotten person: nothing is written then.
        With no events, only the idempotency record is kept (pointing at the log's end),
        so a retry of a command that changed nothing still gets its first answer.
        ``states``: the records' states after these events, when the caller has folded
        them already; otherwise the states remembered here are moved on by the events.
        ``tracking`` and ``outbox`` (rows of recorders.OUTBOX_COLUMNS) are a policy's: its
        new place in the log and its messages' delivery state, in the same transaction.
        """
        if not events:
            assert not claims and not releases, "a claim changes only with the events that need it"
            if tracking is not None or outbox:
                self.write_policy_rows(tracking, outbox)
            if idempotency is not None:
                self.recorder.insert_idempotency(idempotency, self.max_position())
            return None
        seal = None
        subjects = {personal.needs_key(e) for e in events}
        subjects.discard(None)
        if subjects:  # personal fields are stored sealed with their subject's key
            seal = personal.Sealer(self.keys.for_writing(subjects)).seal_state
        to_stored = self.mapper.to_stored_event
        stored = [to_stored(e, seal) for e in events]
        # Straight to the recorder, as Application.save() ends up doing: its event
        # collection checks each event against runtime Protocols (~20 µs a save).
        new_tails: dict[str, tuple[int, bytes]] = {}
        positions = self.recorder.insert_events(
            stored, idempotency=idempotency, claims=self.claim_digests.claims(claims),
            releases=self.claim_digests.claims(releases), record_tails=self._known_tails(events),
            new_tails=new_tails, tracking=tracking, outbox=outbox,
        )
        self._remember_new_tails(new_tails)
        if states:  # the caller folded them already (a batch): remembered as they are
            for state in states:
                self._remember_state(state)
        else:
            self._move_states(events)
        position = max(positions)
        for listener in self._listeners:
            listener(position)
        return position

    def _move_states(self, events: Sequence[Event]) -> None:
        """Fold what was just saved into the remembered states that it follows."""
        for event in events:
            state = self._states.get(event.originator_id)
            if state is not None and state.version == event.originator_version - 1:
                self._states[event.originator_id] = type(state).evolve(state, event)

    # --- policies' places in the log and their outbox ----------------------------

    def tracked_position(self, name: str) -> int:
        """Where a policy has read the log up to. A policy met for the first time starts at
        the log's end: it reacts to what happens once it is installed, not to the past."""
        rows = self.side_tables.read("SELECT position FROM {policy_positions} WHERE name = ?", (name,))
        if not rows:
            self.side_tables.write("INSERT INTO {policy_positions} (name, position) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                                   (name, self.max_position()))
            rows = self.side_tables.read("SELECT position FROM {policy_positions} WHERE name = ?", (name,))
        return int(rows[0]["position"])

    def write_policy_rows(self, tracking: Tracking | None, outbox: Sequence[tuple[Any, ...]] = ()) -> None:
        """A policy's place and outbox rows with no event (events go through ``save``)."""
        with self.recorder.datastore.transaction(commit=True) as cursor:
            if tracking is not None:
                cursor.execute(self.side_tables.sql(MOVE_TRACKING.replace("{table}", "{policy_positions}")),
                               (tracking.position, tracking.name, tracking.after))
                if _rowcount(cursor) != 1:
                    raise moved_elsewhere(tracking)
            if outbox:
                cursor.executemany(self.side_tables.sql(UPSERT_OUTBOX.replace("{table}", "{outbox}")), outbox)

    def decode(self, rows: Sequence[RawEvent]) -> list[Event]:
        """Stored events as domain events, personal fields opened (None where forgotten)."""
        return self._decode([StoredEvent(UUID(r.originator_id), r.version, r.topic, r.state) for r in rows])

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after each save in this process (wakes the projector)."""
        self._listeners.append(listener)

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        return self.recorder.find_idempotency(scope, key)

    def claim_owner(self, scope: str, value: str) -> str | None:
        return self.recorder.claim_owner(scope, self.claim_digests.of(scope, value))

    def claim_owners(self, scope: str, values: Collection[str]) -> dict[str, str]:
        """Who holds each of these values, for those held: ``claim_owner`` for a batch."""
        by_digest = {self.claim_digests.of(scope, value): value for value in set(values)}
        wanted, owners = sorted(by_digest), {}
        if self.is_postgres and wanted:  # one round trip, whatever the number
            # The values as one JSON text: psycopg dumps a list of 10,000 strings in Python.
            statement = ("SELECT value, owner_id FROM {unique_claims} WHERE scope = ? "
                         "AND value = ANY(ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))")
            rows = self.side_tables.read(statement, (scope, orjson.dumps(wanted).decode()))
            return {by_digest[row["value"]]: row["owner_id"] for row in rows}
        for start in range(0, len(wanted), CLAIMS_CHUNK):
            chunk = wanted[start:start + CLAIMS_CHUNK]
            statement = f"SELECT value, owner_id FROM {{unique_claims}} WHERE scope = ? AND value IN ({', '.join('?' * len(chunk))})"
            owners.update((by_digest[row["value"]], row["owner_id"])
                          for row in self.side_tables.read(statement, (scope, *chunk)))
        return owners

    # --- following the log ----------------------------------------------------------

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int) -> list[RawEvent]:
        """Stored events after ``after``, in log order; plain SQL, no decoding (the fast
        path for projections: the library's mapper decodes one event at a time)."""
        if self.is_postgres:
            datastore = self.recorder.datastore
            statement = SQL(
                "SELECT notification_id, originator_id::text, originator_version, topic, state "
                "FROM {}.{} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
            ).format(Identifier(datastore.schema), Identifier(self.recorder.events_table_name))
            with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
                # Binary results: bytea arrives as bytes, not as hex text to decode.
                curs.execute(statement, (after, limit), prepare=True)
                rows = curs.fetchall()
            if rows and type(rows[0][4]) is not bytes:
                return [RawEvent(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
            return [RawEvent(*r) for r in rows]
        with self.recorder.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            # The library stores a UUID as 32 hex digits: SQLite adds the dashes of str(UUID).
            dashed = (
                "CASE WHEN length(originator_id) = 32 THEN lower(substr(originator_id, 1, 8) || '-' || "
                "substr(originator_id, 9, 4) || '-' || substr(originator_id, 13, 4) || '-' || "
                "substr(originator_id, 17, 4) || '-' || substr(originator_id, 21, 12)) ELSE originator_id END"
            )
            cursor.execute(
                f"SELECT rowid, {dashed}, originator_version, topic, state FROM "
                f"{self.recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, limit),
            )
            rows = cursor.fetchall()
        return [RawEvent(*r) if len(r[1]) == 36 else RawEvent(r[0], str(UUID(r[1])), *r[2:]) for r in rows]

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
        keys = self.keys_for(rows)
        opened = []
        for row in rows:
            cls = event_class(row.topic)
            opened.append(personal.readable(cls, orjson.loads(row.state), row.originator_id, keys))
        return opened

    def record_events(self, record_id: UUID, after_version: int, limit: int,
                      topics: Collection[str] | None = None) -> list[RawEvent]:
        """One record's stored events after a version, in version order, with their
        positions; only those of these topics when given (a timeline's page)."""
        if self.is_postgres:
            datastore = self.recorder.datastore
            only = SQL("AND topic = ANY(%s) ") if topics is not None else SQL("")
            statement = SQL(
                "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {}.{} "
                "WHERE originator_id = %s AND originator_version > %s {}ORDER BY originator_version LIMIT %s"
            ).format(Identifier(datastore.schema), Identifier(self.recorder.events_table_name), only)
            params = (record_id, after_version, *([sorted(topics)] if topics is not None else []), limit)
            with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
                curs.execute(statement, params)
                return [RawEvent(r[0], r[1], r[2], r[3], bytes(r[4])) for r in curs.fetchall()]
        only = f"AND topic IN ({', '.join('?' * len(topics))}) " if topics is not None else ""
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_version, topic, state FROM {self.recorder.events_table_name} "
                f"WHERE originator_id = ? AND originator_version > ? {only}ORDER BY originator_version LIMIT ?",
                (record_id.hex, after_version, *sorted(topics or ()), limit),
            )
            return [RawEvent(r[0], str(record_id), r[1], r[2], r[3]) for r in c.fetchall()]

    def states_at(self, positions: Collection[int]) -> dict[int, dict[str, Any]]:
        """The stored events at these log positions, as ``open_states`` gives them: what the
        news feed shows of each (the read side keeps where they are, the store what they say)."""
        wanted = sorted(set(positions))
        if not wanted:
            return {}
        if self.is_postgres:
            datastore = self.recorder.datastore
            statement = SQL(
                "SELECT notification_id, originator_id::text, originator_version, topic, state "
                "FROM {}.{} WHERE notification_id = ANY(%s)"
            ).format(Identifier(datastore.schema), Identifier(self.recorder.events_table_name))
            with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
                curs.execute(statement, (wanted,), prepare=True)
                rows = [RawEvent(r[0], r[1], r[2], r[3], bytes(r[4])) for r in curs.fetchall()]
        else:
            rows = []
            with self.recorder.datastore.transaction(commit=False) as c:
                for start in range(0, len(wanted), CLAIMS_CHUNK):
                    chunk = wanted[start:start + CLAIMS_CHUNK]
                    c.execute(
                        f"SELECT rowid, originator_id, originator_version, topic, state FROM "
                        f"{self.recorder.events_table_name} WHERE rowid IN ({', '.join('?' * len(chunk))})", chunk,
                    )
                    rows += [RawEvent(r[0], str(UUID(r[1])), r[2], r[3], r[4]) for r in c.fetchall()]
        return {row.position: state for row, state in zip(rows, self.open_states(rows), strict=True)}

    def keys_for(self, rows: Sequence[RawEvent]) -> dict[str, bytes]:
        """The keys that open these stored events' personal fields (one query)."""
        subjects = {
            s for row in rows if (s := personal.raw_subject(event_class(row.topic), row.originator_id, row.state)) is not None
        }
        return self.keys.for_reading(subjects)

    @property
    def channel(self) -> str | None:
        """The PostgreSQL NOTIFY channel the library signals on each insert."""
        return self.recorder.channel_name if self.is_postgres else None

    def close(self) -> None:
        self.app.close()

    # --- the audit trail (see crm_es.audit) --------------------------------------------

    def chain(self, after: int, limit: int) -> list[ChainRow]:
        """Stored events after position ``after``, in log order, with their hash links."""
        return self.recorder.select_chain(after, limit)

    def record_chain(self, aggregate_id: UUID) -> list[ChainRow]:
        """One record's stored events, in version order, with their hash links."""
        return self.recorder.select_record_chain(aggregate_id)

    def positions_with_hash(self, digest: bytes) -> list[int]:
        return self.recorder.positions_with_hash(digest)
