"""Claims and Idempotency-Keys on PostgreSQL: who holds a claimed value (its digest), the
first answer kept for a key, and the steps of the one-off migration of clear claims to
digests that differ from SQLite's (store/claims.py runs it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from psycopg.sql import SQL, Identifier

from crm_es.store.postgres.tables import PostgresTables

# The values as one JSON text: psycopg dumps a list of 10,000 strings in Python.
OWNERS = ("SELECT value, owner_id FROM {unique_claims} WHERE scope = ? "
          "AND value = ANY(ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))")


class PostgresClaims:
    def __init__(self, recorder: Any, tables: PostgresTables) -> None:
        self.recorder, self.datastore, self.tables = recorder, recorder.datastore, tables
        self.owner_statement = SQL("SELECT owner_id FROM {} WHERE scope=%s AND value=%s").format(recorder.claims_table)
        self.find_key_statement = SQL(
            "SELECT fingerprint, status, body, position FROM {} WHERE scope=%s AND key=%s").format(recorder.idempotency_table)

    def owner(self, scope: str, digest: str) -> str | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.owner_statement, (scope, digest))
            row = curs.fetchone()
            return None if row is None else row["owner_id"]

    def owners(self, scope: str, digests: list[str]) -> Iterator[tuple[str, str]]:
        """(digest, owner) of those of these digests that are held: one round trip, whatever the number."""
        if digests:
            rows = self.tables.read(OWNERS, (scope, orjson.dumps(digests).decode()))
            yield from ((row["value"], row["owner_id"]) for row in rows)

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.find_key_statement, (scope, key))
            row = curs.fetchone()
            return None if row is None else (row["fingerprint"], row["status"], row["body"], row["position"])

    # --- the migration to digests -----------------------------------------------------

    @contextmanager
    def migrating(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            self.recorder.lock_setup(c)  # not while another process sets the store up
            yield c

    def insert_digests(self, c: Any, rows: list[tuple[str, str, str]]) -> None:
        c.execute(self.tables.sql("INSERT INTO {unique_claims_digests} SELECT * FROM unnest(?::text[], ?::text[], ?::text[])"),
                  tuple(list(column) for column in zip(*rows)))

    def rename_digests(self, c: Any) -> None:
        schema, name = Identifier(self.datastore.schema), f"{self.tables.prefix}_unique_claims"
        c.execute(SQL("ALTER TABLE {}.{} RENAME TO {}").format(schema, Identifier(f"{name}_digests"), Identifier(name)))
        # The primary key's index keeps the name it has always had.
        c.execute(SQL("ALTER TABLE {}.{} RENAME CONSTRAINT {} TO {}").format(
            schema, Identifier(name), Identifier(f"{name}_digests_pkey"), Identifier(f"{name}_pkey")))
