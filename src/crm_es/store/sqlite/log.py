"""Reading the log on SQLite: pages of it in order, records' events, events at positions,
and the hash chain's rows. A position is the rowid; the library stores an id as 32 hex digits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from crm_es.store.chain import ChainRow, canonical_id
from crm_es.store.values import RawEvent

CHUNK = 500  # values (positions) per query (SQLite allows 32,766 parameters; plans stay small)
PAIRS = 10_000  # (id, version) pairs per query: 2 parameters each, under SQLite's 32,766
# The library stores a UUID as 32 hex digits: SQLite adds the dashes of str(UUID).
DASHED = (
    "CASE WHEN length(originator_id) = 32 THEN lower(substr(originator_id, 1, 8) || '-' || "
    "substr(originator_id, 9, 4) || '-' || substr(originator_id, 13, 4) || '-' || "
    "substr(originator_id, 17, 4) || '-' || substr(originator_id, 21, 12)) ELSE originator_id END"
)


class SQLiteLog:
    def __init__(self, recorder: Any) -> None:
        self.recorder, self.datastore = recorder, recorder.datastore
        table = self.table = recorder.events_table_name
        self.read_statement = (
            f"SELECT rowid, {DASHED}, originator_version, topic, state FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        # Each event with the hash of its record's previous version (no per-record memory).
        self.chain_statement = (
            f"SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, e.hash, e.prev_hash, p.hash "
            f"FROM {table} e LEFT JOIN {table} p "
            f"ON p.originator_id = e.originator_id AND p.originator_version = e.originator_version - 1 "
        )

    def end(self) -> int:
        return self.recorder.max_notification_id() or 0

    def since(self, since: dict[UUID, int], top: int) -> list[tuple[UUID, int, str, bytes, bytes | None]]:
        """(id, version, topic, state, hash) of these records' events after the given
        versions and up to ``top``, each record's in version order."""
        ids, rows = list(since), []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), PAIRS):
                chunk = ids[start:start + PAIRS]
                c.execute(
                    f"WITH w(id, v) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) "
                    "SELECT e.originator_id, e.originator_version, e.topic, e.state, e.hash "
                    f"FROM {self.table} e JOIN w ON e.originator_id = w.id "
                    "AND e.originator_version > w.v WHERE e.originator_version <= ? "
                    "ORDER BY e.originator_id, e.originator_version",
                    [*(p for i in chunk for p in (i.hex, since[i])), top],
                )
                rows += [(UUID(r[0]), r[1], r[2], r[3], r[4]) for r in c.fetchall()]
        return rows

    def read(self, after: int, limit: int) -> list[RawEvent]:
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            cursor.execute(self.read_statement, (after, limit))
            rows = cursor.fetchall()
        return [RawEvent(*r) if len(r[1]) == 36 else RawEvent(r[0], str(UUID(r[1])), *r[2:]) for r in rows]

    def record_events(self, record_id: UUID, after_version: int, limit: int,
                      topics: Collection[str] | None) -> list[RawEvent]:
        only = f"AND topic IN ({', '.join('?' * len(topics))}) " if topics is not None else ""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_version, topic, state FROM {self.table} "
                f"WHERE originator_id = ? AND originator_version > ? {only}ORDER BY originator_version LIMIT ?",
                (record_id.hex, after_version, *sorted(topics or ()), limit),
            )
            return [RawEvent(r[0], str(record_id), r[1], r[2], r[3]) for r in c.fetchall()]

    def at(self, positions: Sequence[int]) -> list[RawEvent]:
        rows = []
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(positions), CHUNK):
                chunk = positions[start:start + CHUNK]
                c.execute(
                    f"SELECT rowid, originator_id, originator_version, topic, state FROM "
                    f"{self.table} WHERE rowid IN ({', '.join('?' * len(chunk))})", chunk,
                )
                rows += [RawEvent(r[0], str(UUID(r[1])), r[2], r[3], r[4]) for r in c.fetchall()]
        return rows

    def chain(self, after: int, limit: int) -> list[ChainRow]:
        return self._chain_rows(self.chain_statement + "WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?", (after, limit))

    def record_chain(self, originator_id: UUID) -> list[ChainRow]:
        statement = self.chain_statement + "WHERE e.originator_id = ? ORDER BY e.originator_version"
        return self._chain_rows(statement, (originator_id.hex,))

    def _chain_rows(self, statement: str, params: tuple[Any, ...]) -> list[ChainRow]:
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            cursor.execute(statement, params)
            return [ChainRow(r[0], canonical_id(r[1]), *r[2:]) for r in cursor.fetchall()]

    def positions_with_hash(self, digest: bytes) -> list[int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid FROM {self.table} WHERE hash = ? ORDER BY rowid", (digest,))
            return [row[0] for row in c.fetchall()]
