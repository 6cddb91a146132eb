"""The SQLite store's tables: the library's events table with the hash chain's columns,
the side tables of store/schema.py, and the auditors' JSON view; a store from before the
hash chain is chained once, when it is opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteTransaction

from crm_es.store.chain import Chain, canonical_id
from crm_es.store.schema import CLAIMS_COLUMNS, POLICY_INDEXES, POLICY_TABLES

BACKFILL_PAGE = 1000


class _ImmediateTransaction(SQLiteTransaction):
    """BEGIN IMMEDIATE: SQLite's write lock is taken before anything is read, so the
    chain's tail cannot move between reading it and inserting after it (a deferred
    BEGIN would read under a snapshot that another process may outdate)."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:  # still locked after the lock timeout
            raise OperationalError(error) from error
        return cursor


class SQLiteSchema(SQLiteApplicationRecorder):
    @contextmanager
    def writing(self) -> Iterator[SQLiteCursor]:
        """A write transaction that holds the write lock from its start."""
        with self.datastore.get_connection(commit=True) as conn, _ImmediateTransaction(conn, commit=True) as c, c:
            yield c

    def create_table(self) -> None:
        with self.writing() as c:
            self._create_table(c)
            c.execute(f"PRAGMA table_info({self.events_table_name})")
            if "hash" not in {row["name"] for row in c.fetchall()}:  # a store from before the hash chain
                c.execute(f"ALTER TABLE {self.events_table_name} ADD COLUMN hash BLOB")
                c.execute(f"ALTER TABLE {self.events_table_name} ADD COLUMN prev_hash BLOB")
                self._chain_existing_events(c)

    def _chain_existing_events(self, c: SQLiteCursor) -> None:
        """Chain the events already stored, in log order: the chain then attests the log
        as it stood at the upgrade. Keeps one hash per record in memory (once only)."""
        chain, after = Chain(), 0
        while True:
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, BACKFILL_PAGE),
            )
            if not (rows := c.fetchall()):
                return
            links = [(chain.link(canonical_id(r[1]), r[2], r[3], r[4]), r[0]) for r in rows]
            c.executemany(
                f"UPDATE {self.events_table_name} SET hash = ?, prev_hash = ? WHERE rowid = ?",
                [(link.hash, link.prev_hash, rowid) for link, rowid in links],
            )
            after = rows[-1][0]

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS idempotency_keys ("
            "scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
            "status INTEGER NOT NULL, body TEXT NOT NULL, position INTEGER, "
            "PRIMARY KEY (scope, key))",
            f"CREATE TABLE IF NOT EXISTS unique_claims ({CLAIMS_COLUMNS})",
            *(f"CREATE TABLE IF NOT EXISTS {name} ({columns})" for name, columns in POLICY_TABLES.items()),
            *(f"CREATE INDEX IF NOT EXISTS {table}_{suffix} ON {table} ({columns})"
              for table, indexes in POLICY_INDEXES.items() for suffix, columns in indexes),
            # For auditors: the log as readable JSON, with the position as a column.
            "CREATE VIEW IF NOT EXISTS events_json AS SELECT rowid AS position, originator_id, "
            f"originator_version AS version, topic, CAST(state AS TEXT) AS data FROM {self.events_table_name}",
        ]
