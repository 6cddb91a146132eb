"""The side tables on SQLite: a table is named as written (``{outbox}``: ``outbox``)."""

from __future__ import annotations

from typing import Any

from crm_es.store.loop_reads import SQLiteLoopReads
from crm_es.store.side_tables import SideTables, table_names


class SQLiteTables(SideTables):
    blob = "BLOB"

    def sql(self, statement: str) -> str:
        return statement.format(**{name: name for name in table_names(statement)})

    def loop_reads(self) -> SQLiteLoopReads:
        pool = self.datastore.pool
        # An in-memory database is one connection's own: its reads stay on the pool's.
        return SQLiteLoopReads(None if pool.is_sqlite_memory_mode else pool.db_name, self.sql, self.read)

    def rowcount(self, cursor: Any) -> int:
        return int(cursor.sqlite_cursor.rowcount)  # the library's cursor wraps sqlite3's

    def zero_deleted(self, cursor: Any) -> None:
        cursor.execute("PRAGMA secure_delete = ON")  # deleted content is overwritten with zeros

    def drop_old_pages(self) -> None:
        with self.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no older copy of a page in the WAL
