"""The library's recorders, extended to write side rows in the events' own transaction.

``app.save(*events, idempotency=..., claims=..., releases=...)`` reaches
``insert_events(**kwargs)``; these subclasses write:

- ``idempotency_keys``: the first answer to a command sent with an Idempotency-Key,
  so a retry — even after a crash or a restart — returns it and writes nothing;
- ``unique_claims``: values that must be unique (a contact's e-mail), kept in a
  mutable table so that a claim can be erased with the person (not in the log), each as
  a keyed digest of the value (``crm_es.store.claims``), never the value itself.

- ``policy_positions``: how far each policy has read the log, moved only from where
  the policy says it read (``tracking``), so two runners can never both act on an event;
- ``outbox``: the messages policies send out, their delivery state (``outbox`` rows).

A conflict on any of them rolls back the events with it.

They also chain every event to the one before it (``crm_es.audit.chain``): ``hash``
and ``prev_hash`` are computed while the transaction holds the write lock, so two
writers can never link to the same tail.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore, SQLiteTransaction
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from crm_es.audit.chain import Chain, ChainRow, canonical_id, record_tails_wanted, uuid_text

# Policies' side rows (``EventStore.save(tracking=…, outbox=…)``), written SQLite-style
# (``?``, ``{table}``) and composed for PostgreSQL by each recorder.
OUTBOX_COLUMNS = ("delivery_id", "policy", "channel", "contact_id", "status", "attempts", "next_attempt_at",
                  "last_error", "created_at", "sent_at")
POLICY_TABLES = {
    "policy_positions": "name TEXT PRIMARY KEY, position BIGINT NOT NULL, last_error TEXT, last_error_at TEXT, "
                        "failed_position BIGINT",
    "outbox": "delivery_id TEXT PRIMARY KEY, policy TEXT NOT NULL, channel TEXT NOT NULL, contact_id TEXT, "
              "status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at TEXT NOT NULL, last_error TEXT, "
              "created_at TEXT NOT NULL, sent_at TEXT",
}
# What the outbox is searched by, every round of the automations: what is due and when the
# next is (status, time), which automations have timers waiting (channel, status, policy),
# and what a contact was sent lately (the contact-frequency cap). The table keeps every
# message ever queued: without these, each look is a scan of all of them.
POLICY_INDEXES = {"outbox": (("due", "status, next_attempt_at"), ("timers", "channel, status, policy"),
                             ("contact", "contact_id, sent_at"))}
# What a claim row holds: ``value`` is the digest of the claimed value (store/claims.py), never the value.
CLAIMS_COLUMNS = "scope TEXT NOT NULL, value TEXT NOT NULL, owner_id TEXT NOT NULL, PRIMARY KEY (scope, value)"
MOVE_TRACKING = "UPDATE {table} SET position = ? WHERE name = ? AND position = ?"
UPSERT_OUTBOX = (
    f"INSERT INTO {{table}} ({', '.join(OUTBOX_COLUMNS)}) VALUES ({', '.join('?' for _ in OUTBOX_COLUMNS)}) "
    "ON CONFLICT (delivery_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in OUTBOX_COLUMNS[4:])
)


def moved_elsewhere(tracking: Any) -> IntegrityError:
    return IntegrityError(f"policy {tracking.name!r} is no longer at position {tracking.after}: another runner moved it")


BACKFILL_PAGE = 1000
COPY_FROM = 500  # rows from which a save goes by COPY (a tracking batch, an import) on PostgreSQL


class _ImmediateTransaction(SQLiteTransaction):
    """BEGIN IMMEDIATE: SQLite's write lock is taken before anything is read, so the
    chain's tail cannot move between reading it and inserting after it (a deferred
    BEGIN would read under a snapshot that another process may outdate)."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:  # still locked after the lock timeout
            raise OperationalError(error) from error
        return cursor


class CrmSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self.insert_events_statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state, hash, prev_hash) VALUES (?,?,?,?,?,?)"
        )
        # Each event with the hash of its record's previous version (no per-record memory).
        self.select_chain_statement = (
            f"SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, e.hash, e.prev_hash, p.hash "
            f"FROM {table} e LEFT JOIN {table} p "
            f"ON p.originator_id = e.originator_id AND p.originator_version = e.originator_version - 1 "
        )

    @contextmanager
    def _writing(self) -> Iterator[SQLiteCursor]:
        with self.datastore.get_connection(commit=True) as conn, _ImmediateTransaction(conn, commit=True) as c, c:
            yield c

    def create_table(self) -> None:
        with self._writing() as c:
            self._create_table(c)
            c.execute(f"PRAGMA table_info({self.events_table_name})")
            if "hash" not in {row["name"] for row in c.fetchall()}:  # a store from before the hash chain
                c.execute(f"ALTER TABLE {self.events_table_name} ADD COLUMN hash BLOB")
                c.execute(f"ALTER TABLE {self.events_table_name} ADD COLUMN prev_hash BLOB")
                self._chain_existing_events(c)

    def _chain_existing_events(self, c: SQLiteCursor) -> None:
        """Chain the events already stored, in log order: the chain then attests the log
        as it stood at the upgrade. Keeps one hash per record in memory (once only)."""
        chain, after = Chain(), 0
        while True:
            c.execute(
                f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, BACKFILL_PAGE),
            )
            if not (rows := c.fetchall()):
                return
            links = [(chain.link(canonical_id(r[1]), r[2], r[3], r[4]), r[0]) for r in rows]
            c.executemany(
                f"UPDATE {self.events_table_name} SET hash = ?, prev_hash = ? WHERE rowid = ?",
                [(link.hash, link.prev_hash, rowid) for link, rowid in links],
            )
            after = rows[-1][0]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._writing() as c:
            return self._insert_events(c, stored_events, **kwargs)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS idempotency_keys ("
            "scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
            "status INTEGER NOT NULL, body TEXT NOT NULL, position INTEGER, "
            "PRIMARY KEY (scope, key))",
            f"CREATE TABLE IF NOT EXISTS unique_claims ({CLAIMS_COLUMNS})",
            *(f"CREATE TABLE IF NOT EXISTS {name} ({columns})" for name, columns in POLICY_TABLES.items()),
            *(f"CREATE INDEX IF NOT EXISTS {table}_{suffix} ON {table} ({columns})"
              for table, indexes in POLICY_INDEXES.items() for suffix, columns in indexes),
            # For auditors: the log as readable JSON, with the position as a column.
            "CREATE VIEW IF NOT EXISTS events_json AS SELECT rowid AS position, originator_id, "
            f"originator_version AS version, topic, CAST(state AS TEXT) AS data FROM {self.events_table_name}",
        ]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = self._insert_chained(c, stored_events, kwargs.get("record_tails") or {}, kwargs.get("new_tails"))
        for claim in kwargs.get("releases", ()):
            c.execute(
                "DELETE FROM unique_claims WHERE scope=? AND value=? AND owner_id=?",
                (claim.scope, claim.value, uuid_text(claim.owner_id)),
            )
        c.executemany("INSERT INTO unique_claims VALUES (?,?,?)",
                      [(claim.scope, claim.value, uuid_text(claim.owner_id)) for claim in kwargs.get("claims", ())])
        record = kwargs.get("idempotency")
        if record is not None:
            self._insert_key(c, record, max(ids or [0]) or None)
        if (tracking := kwargs.get("tracking")) is not None:
            c.execute(MOVE_TRACKING.format(table="policy_positions"), (tracking.position, tracking.name, tracking.after))
            if c.sqlite_cursor.rowcount != 1:
                raise moved_elsewhere(tracking)
        if outbox := kwargs.get("outbox"):
            c.executemany(UPSERT_OUTBOX.format(table="outbox"), outbox)
        return ids

    def _insert_chained(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], known: dict[str, tuple[int, bytes]],
        new_tails: dict[str, tuple[int, bytes]] | None = None,
    ) -> list[int]:
        """The library's insert (one row at a time), each event with its links.
        ``known``: record tails the caller read with the records (not read again);
        ``new_tails`` is given the records' new tails (valid once committed)."""
        events = [(canonical_id(s.originator_id), s) for s in stored_events]
        c.execute(f"SELECT hash FROM {self.events_table_name} ORDER BY rowid DESC LIMIT 1")
        tail = c.fetchone()
        chain = Chain(tail and tail[0], {**known, **self._record_tails(c, [(i, s.originator_version) for i, s in events], known)})
        positions = []
        for originator_id, s in events:
            link = chain.link(originator_id, s.originator_version, s.topic, s.state)
            stored_id = s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id
            c.execute(self.insert_events_statement, (stored_id, s.originator_version, s.topic, s.state, link.hash, link.prev_hash))
            positions.append(c.lastrowid)
        if new_tails is not None:
            new_tails.update((i, chain.record_tails[i]) for i, _ in events)
        return positions

    def _record_tails(
        self, c: SQLiteCursor, events: list[tuple[str, int]], known: dict[str, tuple[int, bytes]]
    ) -> dict[str, tuple[int, bytes]]:
        tails = {}
        for originator_id, version in record_tails_wanted(events, known):
            c.execute(
                f"SELECT hash FROM {self.events_table_name} WHERE originator_id = ? AND originator_version = ?",
                (UUID(originator_id).hex, version),
            )
            row = c.fetchone()
            if row is not None and row[0] is not None:
                tails[originator_id] = (version, row[0])
        return tails

    def select_chain(self, after: int, limit: int) -> list[ChainRow]:
        """Events after position ``after``, in log order, with their links."""
        return self._chain_rows(self.select_chain_statement + "WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?", (after, limit))

    def select_record_chain(self, originator_id: UUID) -> list[ChainRow]:
        """One record's events, in version order, with their links."""
        statement = self.select_chain_statement + "WHERE e.originator_id = ? ORDER BY e.originator_version"
        return self._chain_rows(statement, (originator_id.hex,))

    def _chain_rows(self, statement: str, params: tuple[Any, ...]) -> list[ChainRow]:
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            cursor.row_factory = None  # plain tuples
            cursor.execute(statement, params)
            return [ChainRow(r[0], canonical_id(r[1]), *r[2:]) for r in cursor.fetchall()]

    def positions_with_hash(self, digest: bytes) -> list[int]:
        """Where an event with this hash sits (a scan: asked only about a broken link)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid FROM {self.events_table_name} WHERE hash = ? ORDER BY rowid", (digest,))
            return [row[0] for row in c.fetchall()]

    def insert_idempotency(self, record: Any, position: int) -> None:
        """Remember the answer to a command that recorded no event (it changed nothing)."""
        with self.datastore.transaction(commit=True) as c:
            self._insert_key(c, record, position)

    @staticmethod
    def _insert_key(c: SQLiteCursor, record: Any, position: int | None) -> None:
        c.execute(
            "INSERT INTO idempotency_keys VALUES (?,?,?,?,?,?)",
            (record.scope, record.key, record.fingerprint, record.status, record.body, position),
        )

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT fingerprint, status, body, position FROM idempotency_keys WHERE scope=? AND key=?", (scope, key))
            row = c.fetchone()
            return None if row is None else (row[0], row[1], row[2], row[3])

    def claim_owner(self, scope: str, value: str) -> str | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT owner_id FROM unique_claims WHERE scope=? AND value=?", (scope, value))
            row = c.fetchone()
            return None if row is None else row[0]


class CrmPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.idempotency_table = SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_idempotency_keys"))
        self.claims_table = SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_unique_claims"))
        events = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (scope text NOT NULL, key text NOT NULL, "
                "fingerprint text NOT NULL, status int NOT NULL, body text NOT NULL, position bigint, "
                "PRIMARY KEY (scope, key))"
            ).format(self.idempotency_table),
            SQL("CREATE TABLE IF NOT EXISTS {} (" + CLAIMS_COLUMNS + ")").format(self.claims_table),
            SQL(
                "CREATE OR REPLACE VIEW {} AS SELECT notification_id AS position, originator_id, "
                "originator_version AS version, topic, convert_from(state, 'UTF8')::jsonb AS data FROM {}"
            ).format(SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_json")), events),
        ]
        self.policy_tables = {name: SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_{name}"))
                              for name in POLICY_TABLES}
        self.sql_create_statements += [
            SQL("CREATE TABLE IF NOT EXISTS {} (" + columns + ")").format(self.policy_tables[name])
            for name, columns in POLICY_TABLES.items()
        ] + [
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (" + columns + ")").format(
                Identifier(f"{self.events_table_name}_{table}_{suffix}"), self.policy_tables[table])
            for table, indexes in POLICY_INDEXES.items() for suffix, columns in indexes
        ]
        self.move_tracking = SQL(MOVE_TRACKING.replace("?", "%s")).format(table=self.policy_tables["policy_positions"])
        self.upsert_outbox = SQL(UPSERT_OUTBOX.replace("?", "%s")).format(table=self.policy_tables["outbox"])
        self.begin_lock_notify = SQL("BEGIN; SET LOCAL lock_timeout = '{}s'; LOCK TABLE {} IN EXCLUSIVE MODE; NOTIFY {}").format(
            SQL(str(int(self.datastore.lock_timeout))), events, Identifier(self.channel_name)
        )
        self.events = events
        self.insert_claim = SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(self.claims_table)
        self.insert_claims = SQL("INSERT INTO {} SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])").format(
            self.claims_table
        )
        self.id_type = Identifier(self.datastore.originator_id_type)
        # A batch (COPY_FROM rows or more) goes by COPY: its events, its claims.
        columns = "(originator_id, originator_version, topic, state, hash, prev_hash)"
        self.copy_events = SQL("COPY {} " + columns + " FROM STDIN (FORMAT BINARY)").format(events)
        self.copy_types = [self.datastore.originator_id_type, "int8", "text", "bytea", "bytea", "bytea"]
        self.copy_claims = SQL("COPY {} (scope, value, owner_id) FROM STDIN").format(self.claims_table)
        self.last_positions = SQL("SELECT notification_id FROM {} ORDER BY notification_id DESC LIMIT %s").format(events)
        self.insert_key_at_end = SQL(
            "INSERT INTO {} SELECT %s, %s, %s, %s, %s, (SELECT max(notification_id) FROM {})"
        ).format(self.idempotency_table, events)
        # Sent with BEGIN, the lock and the NOTIFY, read under the lock: the log's last
        # hash (in a row whose originator_id is NULL), then the hashes of the versions
        # the new events follow (rendered once to text: the query changes with them).
        self.lock_and_read_tails = SQL(
            "{}; SELECT NULL::{} AS originator_id, NULL::bigint AS originator_version, "
            "(SELECT hash FROM {} ORDER BY notification_id DESC LIMIT 1) AS hash"
        ).format(self.begin_lock_notify, self.id_type, events).as_string()
        # One index lookup per wanted version (LATERAL): a long IN list of pairs can make
        # the planner scan the whole table, as a bulk save of thousands of moves did.
        self.select_record_tails = SQL(
            " UNION ALL SELECT w.id, w.v, e.hash FROM (VALUES {{}}) AS w(id, v) CROSS JOIN LATERAL "
            "(SELECT hash FROM {} WHERE originator_id = w.id AND originator_version = w.v AND hash IS NOT NULL) AS e"
        ).format(events).as_string()
        self.id_cast = self.id_type.as_string()
        # Binary parameters (%b): no hex escaping of the bytes. One event (a command) goes
        # as plain VALUES, cheaper than arrays; several as one array per column.
        one = SQL("VALUES (%b, %b, %b, %b, %b, %b)")
        many = SQL("SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::text[], %b::bytea[], %b::bytea[], %b::bytea[])").format(
            self.id_type
        )
        self.insert_events_returning: dict[bool, Composed] = {}
        self.insert_events_and_key: dict[bool, Composed] = {}
        for single, rows in ((True, one), (False, many)):
            insert = SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state, hash, prev_hash) {} RETURNING notification_id"
            ).format(events, rows)
            self.insert_events_returning[single] = insert
            # The events and the first answer of their Idempotency-Key in one statement.
            self.insert_events_and_key[single] = SQL(
                "WITH inserted AS ({}), key AS (INSERT INTO {} SELECT %s, %s, %s, %s, %s, "
                "(SELECT max(notification_id) FROM inserted)) SELECT notification_id FROM inserted ORDER BY notification_id"
            ).format(insert, self.idempotency_table)
        # Each event with the hash of its record's previous version (no per-record memory).
        self.select_chain_statement = SQL(
            "SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, e.hash, "
            "e.prev_hash, p.hash FROM {} e LEFT JOIN {} p "
            "ON p.originator_id = e.originator_id AND p.originator_version = e.originator_version - 1 "
        ).format(events, events)

    def _create_table(self, curs: Any) -> None:
        self.lock_setup(curs)
        super()._create_table(curs)
        if not self._has_chain_columns(curs):  # a store from before the hash chain
            curs.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.events))
            if not self._has_chain_columns(curs):  # unless another process just added them
                curs.execute(SQL("ALTER TABLE {} ADD COLUMN hash bytea, ADD COLUMN prev_hash bytea").format(self.events))
                self._chain_existing_events(curs)

    def lock_setup(self, curs: Any) -> None:
        """No other process sets up or migrates this store until the transaction ends: two
        processes starting at once would otherwise both run CREATE OR REPLACE VIEW (and one
        fail with "tuple concurrently updated")."""
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.datastore.schema}.{self.events_table_name}",))

    def _has_chain_columns(self, curs: Any) -> bool:
        curs.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s AND column_name = 'hash'",
            (self.datastore.schema, self.events_table_name),
        )
        return curs.fetchone() is not None

    def _chain_existing_events(self, curs: Any) -> None:
        """Chain the events already stored, in log order: the chain then attests the log
        as it stood at the upgrade. Keeps one hash per record in memory (once only)."""
        chain, after = Chain(), 0
        while True:
            curs.execute(
                SQL(
                    "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
                    "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
                ).format(self.events),
                (after, BACKFILL_PAGE),
            )
            if not (rows := curs.fetchall()):
                return
            links = [
                chain.link(canonical_id(r["originator_id"]), r["originator_version"], r["topic"], bytes(r["state"]))
                for r in rows
            ]
            curs.execute(
                SQL(
                    "UPDATE {} SET hash = u.hash, prev_hash = u.prev_hash "
                    "FROM unnest(%s::bigint[], %s::bytea[], %s::bytea[]) AS u(id, hash, prev_hash) WHERE notification_id = u.id"
                ).format(self.events),
                ([r["notification_id"] for r in rows], [link.hash for link in links], [link.prev_hash for link in links]),
            )
            after = rows[-1]["notification_id"]

    def _lock_and_read_tails(self, events: list[tuple[str, int]], known: dict[str, tuple[int, bytes]]) -> str:
        """The first round trip of a save; ``events``: (canonical id, version) of each;
        ``known``: record tails the caller read with the records (not read again)."""
        wanted = record_tails_wanted(events, known)
        if not wanted:
            return self.lock_and_read_tails
        # Nothing to escape: a canonical id is hex digits and dashes, a version an int.
        pairs = ", ".join(f"('{canonical_id(i)}'::{self.id_cast}, {int(v)}::bigint)" for i, v in wanted)
        return self.lock_and_read_tails + self.select_record_tails.format(pairs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, in three round trips instead of about fourteen.

        The same statements — lock the table (so positions follow commit order), NOTIFY
        the followers, insert the events — but BEGIN, the lock, the NOTIFY and the reads
        the hash chain needs go as one simple-protocol query, and the events and the
        idempotency row as one statement.
        """
        if not stored_events:
            return []
        ids = [canonical_id(e.originator_id) for e in stored_events]
        known = kwargs.get("record_tails") or {}
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._lock_and_read_tails(list(zip(ids, (e.originator_version for e in stored_events))), known))
            try:
                while curs.nextset():  # to the last statement's rows: the tails
                    pass
                tail, record_tails = None, dict(known)
                for row in curs.fetchall():
                    if row["originator_id"] is None:
                        tail = row["hash"]
                    else:
                        record_tails[str(row["originator_id"])] = (row["originator_version"], bytes(row["hash"]))
                for claim in kwargs.get("releases", ()):
                    curs.execute(
                        SQL("DELETE FROM {} WHERE scope=%s AND value=%s AND owner_id=%s").format(self.claims_table),
                        (claim.scope, claim.value, uuid_text(claim.owner_id)),
                    )
                self._insert_claims(curs, kwargs.get("claims", ()))
                self._write_policy_rows(curs, kwargs)
                chain = Chain(tail and bytes(tail), record_tails)
                links = [chain.link(i, e.originator_version, e.topic, e.state) for i, e in zip(ids, stored_events)]
                if (new_tails := kwargs.get("new_tails")) is not None:  # the caller keeps them once committed
                    new_tails.update((i, chain.record_tails[i]) for i in ids)
                rows = [
                    (e.originator_id, e.originator_version, e.topic, e.state, link.hash, link.prev_hash)
                    for e, link in zip(stored_events, links)
                ]
                single = len(rows) == 1
                values = rows[0] if single else tuple(list(column) for column in zip(*rows))
                record = kwargs.get("idempotency")
                if len(rows) >= COPY_FROM:
                    return self._copy_events(conn, curs, rows, record)
                # The insert and the COMMIT in one round trip (psycopg's pipeline mode): a
                # failed insert makes the server skip the COMMIT, and the error is raised here.
                with conn.pipeline():
                    if record is None:
                        curs.execute(self.insert_events_returning[single], values, prepare=True)
                    else:
                        params = (*values, record.scope, record.key, record.fingerprint, record.status, record.body)
                        curs.execute(self.insert_events_and_key[single], params, prepare=True)
                    conn.execute("COMMIT")
                positions = [row["notification_id"] for row in curs.fetchall()]
            except BaseException:
                conn.rollback()
                raise
        return positions

    def _write_policy_rows(self, curs: Any, kwargs: dict[str, Any]) -> None:
        if (tracking := kwargs.get("tracking")) is not None:
            curs.execute(self.move_tracking, (tracking.position, tracking.name, tracking.after))
            if curs.rowcount != 1:
                raise moved_elsewhere(tracking)
        if outbox := kwargs.get("outbox"):
            curs.executemany(self.upsert_outbox, outbox)

    def _insert_claims(self, curs: Any, claims: Sequence[Any]) -> None:
        rows = [(claim.scope, claim.value, uuid_text(claim.owner_id)) for claim in claims]
        if len(rows) >= COPY_FROM:  # a batch's event ids
            with curs.copy(self.copy_claims) as copy:
                for row in rows:
                    copy.write_row(row)
        elif len(rows) == 1:
            curs.execute(self.insert_claim, rows[0])
        elif rows:
            curs.execute(self.insert_claims, tuple(list(column) for column in zip(*rows)))

    def _copy_events(self, conn: Any, curs: Any, rows: list[tuple[Any, ...]], record: Any) -> list[int]:
        """A batch's events by binary COPY, several times faster than INSERT … unnest for
        thousands of rows. The table lock is held: the log's last positions are theirs.
        Then the positions, the Idempotency-Key's answer and the COMMIT in one round trip."""
        with curs.copy(self.copy_events) as copy:
            copy.set_types(self.copy_types)
            for row in rows:
                copy.write_row(row)
        with conn.pipeline():
            curs.execute(self.last_positions, (len(rows),), prepare=True)
            if record is not None:
                conn.execute(self.insert_key_at_end, (record.scope, record.key, record.fingerprint, record.status, record.body))
            conn.execute("COMMIT")
        return sorted(row["notification_id"] for row in curs.fetchall())

    def select_chain(self, after: int, limit: int) -> list[ChainRow]:
        """Events after position ``after``, in log order, with their links."""
        statement = self.select_chain_statement + SQL("WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s")
        return self._chain_rows(statement, (after, limit))

    def select_record_chain(self, originator_id: UUID) -> list[ChainRow]:
        """One record's events, in version order, with their links."""
        return self._chain_rows(self.select_chain_statement + SQL("WHERE e.originator_id = %s ORDER BY e.originator_version"),
                                (originator_id,))

    def _chain_rows(self, statement: Composed, params: tuple[Any, ...]) -> list[ChainRow]:
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params, prepare=True)
            return [
                ChainRow(r[0], r[1], r[2], r[3], bytes(r[4]), *(None if v is None else bytes(v) for v in r[5:]))
                for r in curs.fetchall()
            ]

    def positions_with_hash(self, digest: bytes) -> list[int]:
        """Where an event with this hash sits (a scan: asked only about a broken link)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(SQL("SELECT notification_id FROM {} WHERE hash = %s ORDER BY notification_id").format(self.events), (digest,))
            return [row[0] for row in curs.fetchall()]

    def insert_idempotency(self, record: Any, position: int) -> None:
        """Remember the answer to a command that recorded no event (it changed nothing)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("INSERT INTO {} VALUES (%s,%s,%s,%s,%s,%s)").format(self.idempotency_table),
                (record.scope, record.key, record.fingerprint, record.status, record.body, position),
            )

    def find_idempotency(self, scope: str, key: str) -> tuple[str, int, str, int | None] | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL("SELECT fingerprint, status, body, position FROM {} WHERE scope=%s AND key=%s").format(self.idempotency_table),
                (scope, key),
            )
            row = curs.fetchone()
            return None if row is None else (row["fingerprint"], row["status"], row["body"], row["position"])

    def claim_owner(self, scope: str, value: str) -> str | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(SQL("SELECT owner_id FROM {} WHERE scope=%s AND value=%s").format(self.claims_table), (scope, value))
            row = curs.fetchone()
            return None if row is None else row["owner_id"]
