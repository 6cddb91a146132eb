"""The side tables on PostgreSQL: ``{outbox}`` is ``<schema>.<events table>_outbox``
(``crm_events_outbox``), composed with psycopg.sql; ``?`` becomes ``%s``."""

from __future__ import annotations

from typing import Any

from psycopg.sql import SQL, Identifier

from crm_es.store.loop_reads import PostgresLoopReads
from crm_es.store.side_tables import SideTables, table_names


class PostgresTables(SideTables):
    blob = "bytea"

    def sql(self, statement: str) -> Any:
        tables = {name: Identifier(self.datastore.schema, f"{self.prefix}_{name}") for name in table_names(statement)}
        return SQL(statement.replace("?", "%s")).format(**tables)

    def loop_reads(self) -> PostgresLoopReads:
        return PostgresLoopReads(self.datastore.pool.kwargs, self.sql)

    def rowcount(self, cursor: Any) -> int:
        return int(cursor.rowcount)

    def zero_deleted(self, cursor: Any) -> None:
        """PostgreSQL has no such setting: nothing to do."""

    def drop_old_pages(self) -> None:
        """The server's own files are its business: nothing to do (SQLite's WAL is ours)."""
