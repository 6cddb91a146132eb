"""Claims and Idempotency-Keys on SQLite: who holds a claimed value (its digest), the
first answer kept for a key, and the steps of the one-off migration of clear claims to
digests that differ from PostgreSQL's (store/claims.py runs it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from crm_es.store.sqlite.tables import SQLiteTables

CHUNK = 500  # values per query (SQLite allows 32,766 parameters; plans stay small)


class SQLiteClaims:
    def __init__(self, recorder: Any, tables: SQLiteTables) -> None:
        self.recorder, self.datastore, self.tables = recorder, recorder.datastore, tables

    def owner(self, scope: str, digest: str) -> str | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT owner_id FROM unique_claims WHERE scope=? AND value=?", (scope, digest))
            row = c.fetchone()
            return None if row is None else row[0]

    def owners(self, scope: str, digests: list[str]) -> Iterator[tuple[str, str]]:
        """(digest, owner) of those of these digests that are held."""
        for start in range(0, len(digests), CHUNK):
            chunk = digests[start:start + CHUNK]
            statement = f"SELECT value, owner_id FROM {{unique_claims}} WHERE scope = ? AND value IN ({', '.join('?' * len(chunk))})"
            yield from ((row["value"], row["owner_id"]) for row in self.tables.read(statement, (scope, *chunk)))

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT fingerprint, status, body, position FROM idempotency_keys WHERE scope=? AND key=?", (scope, key))
            row = c.fetchone()
            return None if row is None else (row[0], row[1], row[2], row[3])

    # --- the migration to digests -----------------------------------------------------

    def migrating(self) -> AbstractContextManager[Any]:
        return self.recorder.writing()  # BEGIN IMMEDIATE: the write lock before any read

    def insert_digests(self, c: Any, rows: list[tuple[str, str, str]]) -> None:
        c.executemany(self.tables.sql("INSERT INTO {unique_claims_digests} VALUES (?, ?, ?)"), rows)

    def rename_digests(self, c: Any) -> None:
        c.execute("ALTER TABLE unique_claims_digests RENAME TO unique_claims")
