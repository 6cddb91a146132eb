"""Reading the log on PostgreSQL: pages of it in order, records' events, events at
positions, and the hash chain's rows. A position is the notification id."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from crm_es.store.chain import ChainRow
from crm_es.store.pg_pool import side_connection
from crm_es.store.values import RawEvent

PROBE_STATEMENT_MS = 1000  # how long the health probe's query may take


class PostgresLog:
    def __init__(self, recorder: Any) -> None:
        self.recorder, self.datastore = recorder, recorder.datastore
        events = recorder.events
        # One index range per record (LATERAL): a join of thousands of ids could make the
        # planner scan the whole table, slower and slower as the log grows.
        self.since_statement = SQL(
            "SELECT w.id, e.originator_version, e.topic, e.state, e.hash "
            "FROM unnest(%s::{}[], %s::bigint[]) AS w(id, v) CROSS JOIN LATERAL ("
            "SELECT originator_version, topic, state, hash FROM {} "
            "WHERE originator_id = w.id AND originator_version > w.v AND originator_version <= %s) AS e "
            "ORDER BY w.id, e.originator_version"
        ).format(Identifier(self.datastore.originator_id_type), events)
        columns = SQL("SELECT notification_id, originator_id::text, originator_version, topic, state FROM {} ").format(events)
        self.read_statement = columns + SQL("WHERE notification_id > %s ORDER BY notification_id LIMIT %s")
        self.record_statements = {
            only: columns + SQL(f"WHERE originator_id = %s AND originator_version > %s {only}"
                                "ORDER BY originator_version LIMIT %s")
            for only in ("", "AND topic = ANY(%s) ")
        }
        self.at_statement = columns + SQL("WHERE notification_id = ANY(%s)")
        # Each event with the hash of its record's previous version (no per-record memory).
        self.chain_statement = SQL(
            "SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, e.hash, "
            "e.prev_hash, p.hash FROM {} e LEFT JOIN {} p "
            "ON p.originator_id = e.originator_id AND p.originator_version = e.originator_version - 1 "
        ).format(events, events)
        self.end_statement = SQL("SELECT max(notification_id) FROM {}").format(events)

    def end(self) -> int:
        return self.recorder.max_notification_id() or 0

    def probed_end(self, env: Mapping[str, str]) -> int:
        """The log's end read on a connection of its own, not from the pool (whose callers
        wait and retry through an outage), with short connect and statement timeouts."""
        with side_connection(env, options=f"-c statement_timeout={PROBE_STATEMENT_MS}") as conn:
            row = conn.execute(self.end_statement).fetchone()
        return int(row[0] or 0) if row else 0

    def since(self, since: dict[UUID, int], top: int) -> list[tuple[UUID, int, str, bytes, bytes | None]]:
        """(id, version, topic, state, hash) of these records' events after the given
        versions and up to ``top``, each record's in version order."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self.since_statement, (list(since), list(since.values()), top), prepare=True)
            return [(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in curs.fetchall()]

    def read(self, after: int, limit: int) -> list[RawEvent]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            # Binary results: bytea arrives as bytes, not as hex text to decode.
            curs.execute(self.read_statement, (after, limit), prepare=True)
            rows = curs.fetchall()
        if rows and type(rows[0][4]) is not bytes:
            return [RawEvent(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]
        return [RawEvent(*r) for r in rows]

    def record_events(self, record_id: UUID, after_version: int, limit: int,
                      topics: Collection[str] | None) -> list[RawEvent]:
        statement = self.record_statements["" if topics is None else "AND topic = ANY(%s) "]
        params = (record_id, after_version, *([sorted(topics)] if topics is not None else []), limit)
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params)
            return [RawEvent(r[0], r[1], r[2], r[3], bytes(r[4])) for r in curs.fetchall()]

    def at(self, positions: Sequence[int]) -> list[RawEvent]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self.at_statement, (list(positions),), prepare=True)
            return [RawEvent(r[0], r[1], r[2], r[3], bytes(r[4])) for r in curs.fetchall()]

    def chain(self, after: int, limit: int) -> list[ChainRow]:
        statement = self.chain_statement + SQL("WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s")
        return self._chain_rows(statement, (after, limit))

    def record_chain(self, originator_id: UUID) -> list[ChainRow]:
        return self._chain_rows(self.chain_statement + SQL("WHERE e.originator_id = %s ORDER BY e.originator_version"),
                                (originator_id,))

    def _chain_rows(self, statement: Composed, params: tuple[Any, ...]) -> list[ChainRow]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params, prepare=True)
            return [
                ChainRow(r[0], r[1], r[2], r[3], bytes(r[4]), *(None if v is None else bytes(v) for v in r[5:]))
                for r in curs.fetchall()
            ]

    def positions_with_hash(self, digest: bytes) -> list[int]:
        """Where an event with this hash sits (a scan: asked only about a broken link)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(SQL("SELECT notification_id FROM {} WHERE hash = %s ORDER BY notification_id").format(
                self.recorder.events), (digest,))
            return [row[0] for row in curs.fetchall()]
