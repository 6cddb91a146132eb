"""Tables the service keeps beside the events, in the event store's own database
(personal-data keys, API keys), written once for both backends.

A statement is written SQLite-style: ``?`` for a parameter and ``{name}`` for a side
table. On SQLite the table is ``name``; on PostgreSQL it is ``<events table>_name`` in
the store's schema (``crm_events_api_keys``), composed with psycopg.sql, as the
recorders name their own side tables (``crm_events_unique_claims``).
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from psycopg.sql import SQL, Identifier


class SideTables:
    def __init__(self, recorder: Any, is_postgres: bool) -> None:
        self.datastore = recorder.datastore
        self.is_postgres = is_postgres
        self.prefix = recorder.events_table_name

    def sql(self, statement: str) -> Any:
        names = {name for _, name, _, _ in Formatter().parse(statement) if name}
        if not self.is_postgres:
            return statement.format(**{name: name for name in names})
        tables = {name: Identifier(self.datastore.schema, f"{self.prefix}_{name}") for name in names}
        return SQL(statement.replace("?", "%s")).format(**tables)

    def write(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.sql(statement), params)

    def read(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.sql(statement), params)
            return list(cursor.fetchall())
