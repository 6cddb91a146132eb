"""Tables the service keeps beside the events, in the event store's own database
(personal-data keys, API keys, the policies' places, the outbox), reached with SQL
written once for both backends.

A statement is written SQLite-style: ``?`` for a parameter and ``{name}`` for a side
table. Each backend composes it (``sql``): on SQLite the table is ``name``; on PostgreSQL
it is ``<events table>_name`` in the store's schema (``crm_events_api_keys``), as the
recorders name their own side tables (``crm_events_unique_claims``). What the backends do
differently around such statements (erasing for good, counting changed rows) is here too.
"""

from __future__ import annotations

from string import Formatter
from typing import Any


def table_names(statement: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(statement) if name}


class SideTables:
    blob = "BLOB"  # the column type of bytes

    def __init__(self, recorder: Any) -> None:
        self.datastore = recorder.datastore
        self.prefix = recorder.events_table_name

    def sql(self, statement: str) -> Any:
        """The statement as this backend runs it."""
        raise NotImplementedError

    def transaction(self, commit: bool) -> Any:
        """A transaction (``with``), its cursor's rows read by column name."""
        return self.datastore.transaction(commit=commit)

    def write(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.sql(statement), params)

    def read(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows that read by column name (``row["position"]``)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self.sql(statement), params)
            return list(cursor.fetchall())

    def loop_reads(self) -> Any:
        """Reads awaited on the event loop (store/loop_reads.py), not yet opened."""
        raise NotImplementedError

    def rowcount(self, cursor: Any) -> int:
        """Rows the cursor's last statement changed."""
        raise NotImplementedError

    def zero_deleted(self, cursor: Any) -> None:
        """From here to the transaction's end, what is deleted is overwritten, not just freed."""
        raise NotImplementedError

    def drop_old_pages(self) -> None:
        """No copy of a page from before the last erasure is kept beside the database."""
        raise NotImplementedError
