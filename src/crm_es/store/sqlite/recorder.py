"""The SQLite recorder: one transaction under SQLite's write lock (BEGIN IMMEDIATE)
appends a group of writes (store/group_commit.py). Each write's events are chained to
the one before them (store/chain.py) and carry their side rows (store/schema.py): claims
released and taken, the Idempotency-Key's first answer, a policy's new place and its
outbox rows. A conflict on any rolls back that write whole, and only it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from crm_es.store.chain import Chain, canonical_id, record_tails_wanted, uuid_text
from crm_es.store.schema import MOVE_TRACKING, UPSERT_OUTBOX, moved_elsewhere
from crm_es.store.sqlite.schema import SQLiteSchema
from crm_es.store.values import Appended, Claim, IdempotencyRecord, Tail, Tracking, Write


class CrmSQLiteRecorder(SQLiteSchema):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self.insert_events_statement = (
            f"INSERT INTO {self.events_table_name} (originator_id, originator_version, topic, state, hash, prev_hash) "
            "VALUES (?,?,?,?,?,?)"
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's way in (its own tests use it): the events alone, chained."""
        return self.append(stored_events).positions

    def append(
        self, stored_events: Sequence[StoredEvent], *, idempotency: IdempotencyRecord | None = None,
        claims: Sequence[Claim] = (), releases: Sequence[Claim] = (), known_tails: dict[str, Tail] | None = None,
        tracking: Tracking | None = None, outbox: Sequence[tuple[Any, ...]] = (),
    ) -> Appended:
        """One write on its own (see ``Write`` for the arguments)."""
        [outcome] = self.append_group([Write(stored_events, idempotency, claims, releases, known_tails or {}, tracking, outbox)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def append_group(self, writes: Sequence[Write]) -> list[Appended | Exception]:
        """Several writes in one transaction (store/group_commit.py), each inside a
        savepoint when there are several: one refused (IntegrityError) is rolled back
        alone, its links taken off the chain, and the others commit."""
        outcomes: list[Appended | Exception] = []
        with self.writing() as c:
            chain = Chain(self._tail(c) if any(write.events for write in writes) else None)
            alone = len(writes) == 1
            for write in writes:
                if alone:
                    outcomes.append(self._write(c, chain, write))
                    continue
                kept = chain.kept()
                c.execute("SAVEPOINT one_write")
                try:
                    outcomes.append(self._write(c, chain, write))
                except (sqlite3.IntegrityError, IntegrityError) as error:
                    c.execute("ROLLBACK TO SAVEPOINT one_write")
                    chain.restore(kept)
                    outcomes.append(error if isinstance(error, IntegrityError) else IntegrityError(error))
                c.execute("RELEASE SAVEPOINT one_write")
        return outcomes

    def _tail(self, c: SQLiteCursor) -> bytes | None:
        """The hash of the log's last event (read under the write lock)."""
        c.execute(f"SELECT hash FROM {self.events_table_name} ORDER BY rowid DESC LIMIT 1")
        row = c.fetchone()
        return row and row[0]

    def _write(self, c: SQLiteCursor, chain: Chain, write: Write) -> Appended:
        appended = self._insert_chained(c, chain, write.events, write.known_tails)
        for claim in write.releases:
            c.execute(
                "DELETE FROM unique_claims WHERE scope=? AND value=? AND owner_id=?",
                (claim.scope, claim.value, uuid_text(claim.owner_id)),
            )
        c.executemany("INSERT INTO unique_claims VALUES (?,?,?)",
                      [(claim.scope, claim.value, uuid_text(claim.owner_id)) for claim in write.claims])
        if write.idempotency is not None:
            if appended.positions:
                position = max(appended.positions)
            else:  # a command that changed nothing: its answer points at the log's end
                c.execute(f"SELECT max(rowid) FROM {self.events_table_name}")
                position = c.fetchone()[0] or 0
            self._insert_key(c, write.idempotency, position)
        self._policy_rows(c, write.tracking, write.outbox)
        return appended

    def _insert_chained(self, c: SQLiteCursor, chain: Chain, stored_events: Sequence[StoredEvent],
                        known: dict[str, Tail]) -> Appended:
        """The library's insert (one row at a time), each event with its links."""
        events = [(canonical_id(s.originator_id), s) for s in stored_events]
        chain.learn({**known, **self._record_tails(c, [(i, s.originator_version) for i, s in events], known)})
        positions = []
        for originator_id, s in events:
            link = chain.link(originator_id, s.originator_version, s.topic, s.state)
            stored_id = s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id
            c.execute(self.insert_events_statement, (stored_id, s.originator_version, s.topic, s.state, link.hash, link.prev_hash))
            positions.append(c.lastrowid)
        return Appended(positions, {i: chain.record_tails[i] for i, _ in events})

    def _record_tails(self, c: SQLiteCursor, events: list[tuple[str, int]], known: dict[str, Tail]) -> dict[str, Tail]:
        tails = {}
        for originator_id, version in record_tails_wanted(events, known):
            c.execute(
                f"SELECT hash FROM {self.events_table_name} WHERE originator_id = ? AND originator_version = ?",
                (UUID(originator_id).hex, version),
            )
            row = c.fetchone()
            if row is not None and row[0] is not None:
                tails[originator_id] = (version, row[0])
        return tails

    @staticmethod
    def _policy_rows(c: SQLiteCursor, tracking: Tracking | None, outbox: Sequence[tuple[Any, ...]]) -> None:
        if tracking is not None:
            c.execute(MOVE_TRACKING.format(table="policy_positions"), (tracking.position, tracking.name, tracking.after))
            if c.sqlite_cursor.rowcount != 1:
                raise moved_elsewhere(tracking)
        if outbox:
            c.executemany(UPSERT_OUTBOX.format(table="outbox"), outbox)

    @staticmethod
    def _insert_key(c: SQLiteCursor, record: IdempotencyRecord, position: int | None) -> None:
        c.execute(
            "INSERT INTO idempotency_keys VALUES (?,?,?,?,?,?)",
            (record.scope, record.key, record.fingerprint, record.status, record.body, position),
        )
