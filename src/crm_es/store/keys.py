"""The key table: one AES key per data subject (a contact), beside the events.

A row with no key is a tombstone: the person was forgotten, their key deleted, and
no new key may ever be made for them (their old tokens must stay unreadable).
Forgetting also removes what else in the store is derived from the person's data:
their uniqueness claims (keyed digests of their e-mail, see ``claims``) and the request
fingerprints (hashes of request bodies) of the idempotency records of commands about
them. Those records stay, so a retried command still gets its first answer and writes
nothing.

One row is no person's: the store's secret for the claims' digests (``CLAIMS_SECRET``).
It lives here, beside the persons' keys, so it is never in the log nor in an export.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from crm_es.store.personal import forget_ciphers, new_key
from crm_es.store.side_tables import SideTables

ERASED_FINGERPRINT = "erased"
CLAIMS_SECRET = "store:claims-secret"  # a person's id is a UUID: this one is no one's
SELECT_CHUNK = 1000  # subjects per query: well under either backend's limit on parameters


class SubjectForgotten(Exception):
    """Personal data was about to be stored for a person who has been forgotten."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"{subject} has been forgotten: no personal data may be stored for them")
        self.subject = subject


class SubjectKeys:
    def __init__(self, tables: SideTables) -> None:
        self.tables = tables
        self.tables.write(
            "CREATE TABLE IF NOT EXISTS {subject_keys} "
            f"(subject_id text PRIMARY KEY, key {tables.blob} NULL, forgotten_at text NULL)"
        )

    def _select(self, c: Any, subjects: list[str]) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        for start in range(0, len(subjects), SELECT_CHUNK):
            chunk = subjects[start:start + SELECT_CHUNK]
            marks = ", ".join("?" * len(chunk))
            c.execute(self.tables.sql(f"SELECT subject_id, key FROM {{subject_keys}} WHERE subject_id IN ({marks})"), chunk)
            found.update((row["subject_id"], None if row["key"] is None else bytes(row["key"])) for row in c.fetchall())
        return found

    def for_reading(self, subjects: Collection[str]) -> dict[str, bytes]:
        """The keys of these subjects that still exist (a forgotten one is absent)."""
        if not subjects:
            return {}
        with self.tables.transaction(commit=False) as c:
            found = self._select(c, list(subjects))
        return {subject: key for subject, key in found.items() if key is not None}

    def forgotten(self, subjects: Collection[str]) -> list[str]:
        """Those of these subjects who have been forgotten (their tombstone), read only."""
        if not subjects:
            return []
        with self.tables.transaction(commit=False) as c:
            found = self._select(c, list(subjects))
        return [subject for subject, key in found.items() if key is None]

    def for_writing(self, subjects: Collection[str]) -> dict[str, bytes]:
        """The keys of these subjects, made for those who have none yet.

        Raises SubjectForgotten for a forgotten subject. Two writers making a key for
        the same new subject at once both end up with the one that was stored first.
        """
        wanted = list(subjects)
        # Read first: most subjects have a key already, and a read takes no write lock (on
        # SQLite, a writer's connection waits for the one writer — the group commit's — and
        # every other caller of the pool waits behind it). A key is never replaced, only
        # erased: reading it here or in the writing transaction below gives the same one.
        with self.tables.transaction(commit=False) as c:
            found = self._select(c, wanted)
        if any(subject not in found for subject in wanted):
            with self.tables.transaction(commit=True) as c:
                found = self._select(c, wanted)
                missing = [(subject, new_key()) for subject in wanted if subject not in found]
                if missing:
                    c.executemany(
                        self.tables.sql("INSERT INTO {subject_keys} (subject_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                        missing,
                    )
                    found = self._select(c, wanted)
        for subject in wanted:
            if found.get(subject) is None:
                raise SubjectForgotten(subject)
        return found  # type: ignore[return-value]

    def forget(self, subject: str, when: datetime) -> None:
        """Delete the subject's key (leaving a tombstone) and their claims, and erase the
        fingerprints of the idempotency records of commands about them: one transaction."""
        forget_ciphers()
        sql = self.tables.sql
        with self.tables.transaction(commit=True) as c:
            self.tables.zero_deleted(c)  # so the file keeps no copy of what is deleted
            c.execute(
                sql(
                    "INSERT INTO {subject_keys} (subject_id, key, forgotten_at) VALUES (?, NULL, ?) "
                    "ON CONFLICT (subject_id) DO UPDATE SET key = NULL, "
                    "forgotten_at = COALESCE({subject_keys}.forgotten_at, excluded.forgotten_at)"
                ),
                (subject, when.isoformat()),
            )
            c.execute(sql("DELETE FROM {unique_claims} WHERE owner_id = ?"), (subject,))
            c.execute(sql("UPDATE {idempotency_keys} SET fingerprint = ? WHERE body LIKE ?"), (ERASED_FINGERPRINT, f"%{subject}%"))
        self.tables.drop_old_pages()
