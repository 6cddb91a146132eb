"""Uniqueness claims stored as keyed digests, never as the values they claim.

A claim (a contact's e-mail, a sender's event id, an imported deal's old id) is kept in the
table ``unique_claims`` as HMAC-SHA256(secret, scope NUL value), in hex: the table holds no
personal datum in clear — not in its rows, and not in PostgreSQL's index pages either, which
keep a deleted key's bytes after DELETE, VACUUM and CHECKPOINT. The secret is the store's
own, a row of the key table beside the persons' keys (``keys.CLAIMS_SECRET``): never in the
log, never exported.

The digests are made here, at the store's boundary (``EventStore.save``, ``claim_owner``,
``claim_owners``): callers keep naming claims by their values. The SQL that differs between
the backends is theirs (store/sqlite/claims.py, store/postgres/claims.py).

A store from before kept its claims in clear and had no secret. The first process to open
it makes the secret and rewrites every claim as its digest, in that one transaction: the
secret's row is the marker (a store with a secret holds digests only). The claims go to a
new table and the old one is dropped, so the old rows and index pages go with its files
(on SQLite, with ``secure_delete``, its pages are zeroed). A second process opening at the
same time waits on the secret's row, then uses the same secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from typing import Any

from crm_es.store.keys import CLAIMS_SECRET
from crm_es.store.personal import new_key
from crm_es.store.schema import CLAIMS_COLUMNS
from crm_es.store.side_tables import SideTables
from crm_es.store.values import Claim

REHASH_PAGE = 10_000  # claims read and rewritten at a time by the one-off migration


def digest(secret: bytes, scope: str, value: str) -> str:
    """The claim's stored value. No scope holds a NUL, so (scope, value) reads back one way."""
    return hmac.digest(secret, f"{scope}\0{value}".encode(), "sha256").hex()


class ClaimDigests:
    """The store's claims secret (made, and the old claims migrated, on first open), the
    digests made with it, and who holds a claimed value. ``lookups``: the backend's claims
    (store/sqlite/claims.py, store/postgres/claims.py)."""

    def __init__(self, tables: SideTables, lookups: Any) -> None:
        self.tables, self.lookups = tables, lookups
        self.secret = self._stored_secret() or self._make_secret()

    def of(self, scope: str, value: str) -> str:
        return digest(self.secret, scope, value)

    def claims(self, claims: Sequence[Claim]) -> list[Claim]:
        """The claims as stored: the same, each value replaced by its digest."""
        return [claim._replace(value=self.of(claim.scope, claim.value)) for claim in claims]

    def owner(self, scope: str, value: str) -> str | None:
        return self.lookups.owner(scope, self.of(scope, value))

    def owners(self, scope: str, values: Collection[str]) -> dict[str, str]:
        """Who holds each of these values, for those held."""
        by_digest = {self.of(scope, value): value for value in set(values)}
        return {by_digest[held]: owner for held, owner in self.lookups.owners(scope, sorted(by_digest))}

    def _stored_secret(self) -> bytes | None:
        rows = self.tables.read("SELECT key FROM {subject_keys} WHERE subject_id = ?", (CLAIMS_SECRET,))
        return bytes(rows[0]["key"]) if rows else None

    def _make_secret(self) -> bytes:
        """Make the secret and turn the clear claims into digests, in one transaction; when
        another process made it first, wait for it and take theirs."""
        secret = new_key()
        with self.lookups.migrating() as c:  # the write lock (or the setup lock) first: one process migrates
            c.execute(self.tables.sql("INSERT INTO {subject_keys} (subject_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                      (CLAIMS_SECRET, secret))
            if self.tables.rowcount(c) == 1:  # ours: no other process migrates
                self._rehash(c, secret)
        self.tables.drop_old_pages()
        stored = self._stored_secret()
        assert stored is not None
        return stored

    def _rehash(self, c: Any, secret: bytes) -> None:
        """Copy every claim, as its digest, to a new table, then put it in the old one's place."""
        sql = self.tables.sql
        self.tables.zero_deleted(c)  # the dropped table's pages are zeroed
        c.execute(sql("CREATE TABLE {unique_claims_digests} (" + CLAIMS_COLUMNS + ")"))
        select = sql("SELECT scope, value, owner_id FROM {unique_claims} WHERE (scope, value) > (?, ?) "
                     "ORDER BY scope, value LIMIT ?")
        after = ("", "")
        while True:
            c.execute(select, (*after, REHASH_PAGE))
            rows = [(row["scope"], row["value"], row["owner_id"]) for row in c.fetchall()]
            if not rows:
                break
            self.lookups.insert_digests(c, [(scope, digest(secret, scope, value), owner) for scope, value, owner in rows])
            after = rows[-1][:2]
        c.execute(sql("DROP TABLE {unique_claims}"))
        self.lookups.rename_digests(c)
