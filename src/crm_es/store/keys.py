"""The key table: one AES key per data subject (a contact), beside the events.

A row with no key is a tombstone: the person was forgotten, their key deleted, and
no new key may ever be made for them (their old tokens must stay unreadable).
Forgetting also removes what else in the store is derived from the person's data:
their uniqueness claims (the e-mail, in clear) and the request fingerprints (hashes of
request bodies) of the idempotency records of commands about them. Those records stay,
so a retried command still gets its first answer and writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from psycopg.sql import SQL, Identifier

from crm_es.store.personal import new_key

ERASED_FINGERPRINT = "erased"


class SubjectForgotten(Exception):
    """Personal data was about to be stored for a person who has been forgotten."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"{subject} has been forgotten: no personal data may be stored for them")
        self.subject = subject


class SubjectKeys:
    def __init__(self, recorder: Any, is_postgres: bool) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore
        self.is_postgres = is_postgres
        if is_postgres:
            schema = Identifier(self.datastore.schema)
            prefix = recorder.events_table_name
            self.table = SQL("{}.{}").format(schema, Identifier(f"{prefix}_subject_keys"))
            self.claims = recorder.claims_table
            self.idempotency = recorder.idempotency_table
        self._create_table()

    # --- SQL, once per backend ----------------------------------------------------

    def _create_table(self) -> None:
        columns = "subject_id text PRIMARY KEY, key {} NULL, forgotten_at text NULL"
        if self.is_postgres:
            with self.datastore.transaction(commit=True) as c:
                c.execute(SQL("CREATE TABLE IF NOT EXISTS {} (" + columns.format("bytea") + ")").format(self.table))
        else:
            with self.datastore.transaction(commit=True) as c:
                c.execute("CREATE TABLE IF NOT EXISTS subject_keys (" + columns.format("BLOB") + ")")

    def _select(self, c: Any, subjects: list[str]) -> dict[str, bytes | None]:
        if self.is_postgres:
            c.execute(SQL("SELECT subject_id, key FROM {} WHERE subject_id = ANY(%s)").format(self.table), (subjects,))
            return {row["subject_id"]: None if row["key"] is None else bytes(row["key"]) for row in c.fetchall()}
        c.execute(f"SELECT subject_id, key FROM subject_keys WHERE subject_id IN ({','.join('?' * len(subjects))})", subjects)
        return {row[0]: row[1] for row in c.fetchall()}

    # --- what the store asks ------------------------------------------------------

    def for_reading(self, subjects: Collection[str]) -> dict[str, bytes]:
        """The keys of these subjects that still exist (a forgotten one is absent)."""
        if not subjects:
            return {}
        with self.datastore.transaction(commit=False) as c:
            found = self._select(c, list(subjects))
        return {subject: key for subject, key in found.items() if key is not None}

    def for_writing(self, subjects: Collection[str]) -> dict[str, bytes]:
        """The keys of these subjects, made for those who have none yet.

        Raises SubjectForgotten for a forgotten subject. Two writers making a key for
        the same new subject at once both end up with the one that was stored first.
        """
        wanted = list(subjects)
        with self.datastore.transaction(commit=True) as c:
            found = self._select(c, wanted)
            missing = [s for s in wanted if s not in found]
            if missing:
                rows = [(subject, new_key()) for subject in missing]
                if self.is_postgres:
                    c.executemany(
                        SQL("INSERT INTO {} (subject_id, key) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(self.table), rows
                    )
                else:
                    c.executemany("INSERT OR IGNORE INTO subject_keys (subject_id, key) VALUES (?, ?)", rows)
                found = self._select(c, wanted)
        for subject in wanted:
            if found.get(subject) is None:
                raise SubjectForgotten(subject)
        return found  # type: ignore[return-value]

    def forget(self, subject: str, when: datetime) -> None:
        """Delete the subject's key (leaving a tombstone) and their claims, and erase the
        fingerprints of the idempotency records of commands about them: one transaction."""
        mentions = f"%{subject}%"
        if self.is_postgres:
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    SQL(
                        "INSERT INTO {} (subject_id, key, forgotten_at) VALUES (%s, NULL, %s) "
                        "ON CONFLICT (subject_id) DO UPDATE SET key = NULL, "
                        "forgotten_at = COALESCE({}.forgotten_at, EXCLUDED.forgotten_at)"
                    ).format(self.table, self.table),
                    (subject, when.isoformat()),
                )
                c.execute(SQL("DELETE FROM {} WHERE owner_id = %s").format(self.claims), (subject,))
                c.execute(
                    SQL("UPDATE {} SET fingerprint = %s WHERE body LIKE %s").format(self.idempotency),
                    (ERASED_FINGERPRINT, mentions),
                )
            return
        with self.datastore.transaction(commit=True) as c:
            # Overwrite deleted content with zeros, so the file keeps no copy of it.
            c.execute("PRAGMA secure_delete = ON")
            c.execute(
                "INSERT INTO subject_keys (subject_id, key, forgotten_at) VALUES (?, NULL, ?) "
                "ON CONFLICT (subject_id) DO UPDATE SET key = NULL, "
                "forgotten_at = COALESCE(subject_keys.forgotten_at, excluded.forgotten_at)",
                (subject, when.isoformat()),
            )
            c.execute("DELETE FROM unique_claims WHERE owner_id = ?", (subject,))
            c.execute("UPDATE idempotency_keys SET fingerprint = ? WHERE body LIKE ?", (ERASED_FINGERPRINT, mentions))
        with self.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # and no older copy of a page in the WAL

    def is_forgotten(self, subject: str) -> bool:
        with self.datastore.transaction(commit=False) as c:
            found = self._select(c, [subject])
        return subject in found and found[subject] is None
