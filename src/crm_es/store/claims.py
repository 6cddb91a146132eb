"""Uniqueness claims stored as keyed digests, never as the values they claim.

A claim (a contact's e-mail, a sender's event id, an imported deal's old id) is kept in the
table ``unique_claims`` as HMAC-SHA256(secret, scope NUL value), in hex: the table holds no
personal datum in clear — not in its rows, and not in PostgreSQL's index pages either, which
keep a deleted key's bytes after DELETE, VACUUM and CHECKPOINT. The secret is the store's
own, a row of the key table beside the persons' keys (``keys.CLAIMS_SECRET``): never in the
log, never exported.

The digests are made here, at the store's boundary (``EventStore.save``, ``claim_owner``,
``claim_owners``): callers keep naming claims by their values.

A store from before kept its claims in clear and had no secret. The first process to open
it makes the secret and rewrites every claim as its digest, in that one transaction: the
secret's row is the marker (a store with a secret holds digests only). The claims go to a
new table and the old one is dropped, so the old rows and index pages go with its files
(on SQLite, with ``secure_delete``, its pages are zeroed). A second process opening at the
same time waits on the secret's row, then uses the same secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg.sql import SQL, Identifier

from crm_es.store.keys import CLAIMS_SECRET
from crm_es.store.personal import new_key
from crm_es.store.recorders import CLAIMS_COLUMNS
from crm_es.store.side_tables import SideTables

REHASH_PAGE = 10_000  # claims read and rewritten at a time by the one-off migration


def digest(secret: bytes, scope: str, value: str) -> str:
    """The claim's stored value. No scope holds a NUL, so (scope, value) reads back one way."""
    return hmac.digest(secret, f"{scope}\0{value}".encode(), "sha256").hex()


class ClaimDigests:
    """The store's claims secret (made, and the old claims migrated, on first open) and the digests made with it."""

    def __init__(self, recorder: Any, is_postgres: bool) -> None:
        self.recorder = recorder
        self.is_postgres = is_postgres
        self.tables = SideTables(recorder, is_postgres)
        self.secret = self._stored_secret() or self._make_secret()

    def of(self, scope: str, value: str) -> str:
        return digest(self.secret, scope, value)

    def claims(self, claims: Sequence[Any]) -> list[Any]:
        """The claims as stored: the same, each value replaced by its digest."""
        return [claim._replace(value=self.of(claim.scope, claim.value)) for claim in claims]

    def _stored_secret(self) -> bytes | None:
        rows = self.tables.read("SELECT key FROM {subject_keys} WHERE subject_id = ?", (CLAIMS_SECRET,))
        return bytes(rows[0]["key"]) if rows else None

    def _make_secret(self) -> bytes:
        """Make the secret and turn the clear claims into digests, in one transaction; when
        another process made it first, wait for it and take theirs."""
        secret = new_key()
        with self._writing() as c:
            c.execute(self.tables.sql("INSERT INTO {subject_keys} (subject_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                      (CLAIMS_SECRET, secret))
            if getattr(c, "sqlite_cursor", c).rowcount == 1:  # ours: no other process migrates
                self._rehash(c, secret)
        if not self.is_postgres:
            with self.recorder.datastore.get_connection(commit=True) as conn:
                conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no older copy of a page in the WAL
        stored = self._stored_secret()
        assert stored is not None
        return stored

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        if self.is_postgres:
            with self.recorder.datastore.transaction(commit=True) as c:
                self.recorder.lock_setup(c)  # not while another process sets the store up
                yield c
        else:
            with self.recorder._writing() as c:  # BEGIN IMMEDIATE: the write lock before any read
                yield c

    def _rehash(self, c: Any, secret: bytes) -> None:
        """Copy every claim, as its digest, to a new table, then put it in the old one's place."""
        sql = self.tables.sql
        if not self.is_postgres:
            c.execute("PRAGMA secure_delete = ON")  # the dropped table's pages are zeroed
        c.execute(sql("CREATE TABLE {unique_claims_digests} (" + CLAIMS_COLUMNS + ")"))
        select = sql("SELECT scope, value, owner_id FROM {unique_claims} WHERE (scope, value) > (?, ?) "
                     "ORDER BY scope, value LIMIT ?")
        after = ("", "")
        while True:
            c.execute(select, (*after, REHASH_PAGE))
            rows = [(row["scope"], row["value"], row["owner_id"]) for row in c.fetchall()]
            if not rows:
                break
            digested = [(scope, digest(secret, scope, value), owner) for scope, value, owner in rows]
            if self.is_postgres:
                c.execute(sql("INSERT INTO {unique_claims_digests} SELECT * FROM unnest(?::text[], ?::text[], ?::text[])"),
                          tuple(list(column) for column in zip(*digested)))
            else:
                c.executemany(sql("INSERT INTO {unique_claims_digests} VALUES (?, ?, ?)"), digested)
            after = rows[-1][:2]
        c.execute(sql("DROP TABLE {unique_claims}"))
        if not self.is_postgres:
            c.execute("ALTER TABLE unique_claims_digests RENAME TO unique_claims")
            return
        schema, name = Identifier(self.recorder.datastore.schema), f"{self.tables.prefix}_unique_claims"
        c.execute(SQL("ALTER TABLE {}.{} RENAME TO {}").format(schema, Identifier(f"{name}_digests"), Identifier(name)))
        # The primary key's index keeps the name it has always had.
        c.execute(SQL("ALTER TABLE {}.{} RENAME CONSTRAINT {} TO {}").format(
            schema, Identifier(name), Identifier(f"{name}_digests_pkey"), Identifier(f"{name}_pkey")))
