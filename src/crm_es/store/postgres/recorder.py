"""The PostgreSQL recorder: one transaction appends a group of writes
(store/group_commit.py). Each write's events are chained to the one before them
(store/chain.py) and carry their side rows (store/schema.py): claims released and taken,
the Idempotency-Key's first answer, a policy's new place and its outbox rows. A conflict
on any rolls back that write whole, and only it (a savepoint each, when there are several).

The library's statements — lock the table (so positions follow commit order), NOTIFY the
followers, insert the events — for one write alone in three round trips instead of about fourteen: BEGIN,
the lock, the NOTIFY and the reads the hash chain needs go as one simple-protocol query,
and the events and the idempotency row as one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composed, Identifier

from crm_es.store.chain import Chain, canonical_id, record_tails_wanted, uuid_text
from crm_es.store.postgres.schema import PostgresSchema
from crm_es.store.schema import MOVE_TRACKING, UPSERT_OUTBOX, moved_elsewhere
from crm_es.store.values import Appended, Claim, IdempotencyRecord, Tail, Tracking, Write

COPY_FROM = 500  # rows from which a save goes by COPY (a tracking batch, an import)


class CrmPostgresRecorder(PostgresSchema):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        events = self.events
        self.move_tracking = SQL(MOVE_TRACKING.replace("?", "%s")).format(table=self.policy_tables["policy_positions"])
        self.upsert_outbox = SQL(UPSERT_OUTBOX.replace("?", "%s")).format(table=self.policy_tables["outbox"])
        self.begin_lock_notify = SQL("BEGIN; SET LOCAL lock_timeout = '{}s'; LOCK TABLE {} IN EXCLUSIVE MODE; NOTIFY {}").format(
            SQL(str(int(self.datastore.lock_timeout))), events, Identifier(self.channel_name)
        )
        self.insert_claim = SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(self.claims_table)
        self.insert_claims = SQL("INSERT INTO {} SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])").format(
            self.claims_table
        )
        self.release_claim = SQL("DELETE FROM {} WHERE scope=%s AND value=%s AND owner_id=%s").format(self.claims_table)
        self.id_type = Identifier(self.datastore.originator_id_type)
        # A batch (COPY_FROM rows or more) goes by COPY: its events, its claims.
        columns = "(originator_id, originator_version, topic, state, hash, prev_hash)"
        self.copy_events = SQL("COPY {} " + columns + " FROM STDIN (FORMAT BINARY)").format(events)
        self.copy_types = [self.datastore.originator_id_type, "int8", "text", "bytea", "bytea", "bytea"]
        self.copy_claims = SQL("COPY {} (scope, value, owner_id) FROM STDIN").format(self.claims_table)
        self.last_positions = SQL("SELECT notification_id FROM {} ORDER BY notification_id DESC LIMIT %s").format(events)
        self.insert_key = SQL("INSERT INTO {} VALUES (%s,%s,%s,%s,%s,%s)").format(self.idempotency_table)
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

    def _lock_and_read_tails(self, wanted: list[tuple[str, int]]) -> str:
        """The first round trip of a save; ``wanted``: (canonical id, version) of the
        record tails to read under the lock (record_tails_wanted)."""
        if not wanted:
            return self.lock_and_read_tails
        # Nothing to escape: a canonical id is hex digits and dashes, a version an int.
        pairs = ", ".join(f"('{canonical_id(i)}'::{self.id_cast}, {int(v)}::bigint)" for i, v in wanted)
        return self.lock_and_read_tails + self.select_record_tails.format(pairs)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's way in (its own tests use it): the events alone, chained."""
        return self.append(stored_events).positions

    def append(
        self, stored_events: Sequence[StoredEvent], *, idempotency: IdempotencyRecord | None = None,
        claims: Sequence[Claim] = (), releases: Sequence[Claim] = (), known_tails: dict[str, Tail] | None = None,
        tracking: Tracking | None = None, outbox: Sequence[tuple[Any, ...]] = (),
    ) -> Appended:
        """One write on its own (see ``Write`` for the arguments)."""
        [outcome] = self.append_group([Write(stored_events, idempotency, claims, releases, known_tails or {}, tracking, outbox)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def append_group(self, writes: Sequence[Write]) -> list[Appended | Exception]:
        """Several writes in one transaction (store/group_commit.py), each inside a
        savepoint when there are several: one refused (IntegrityError) is rolled back
        alone, its links taken off the chain, and the others commit. One write of events
        alone takes the shortest way (``_append_alone``)."""
        if len(writes) == 1 and writes[0].events:
            try:
                return [self._append_alone(writes[0])]
            except IntegrityError as error:
                return [error]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            try:
                chain = self._begin(curs, writes)
                outcomes: list[Appended | Exception] = []
                for write in writes:
                    kept = chain.kept()
                    curs.execute("SAVEPOINT one_write")
                    try:
                        outcomes.append(self._write(curs, chain, write))
                    except (psycopg.IntegrityError, IntegrityError) as error:
                        curs.execute("ROLLBACK TO SAVEPOINT one_write")
                        chain.restore(kept)
                        outcomes.append(error if isinstance(error, IntegrityError) else IntegrityError(str(error)))
                conn.execute("COMMIT")
            except BaseException:
                conn.rollback()
                raise
        return outcomes

    def _begin(self, curs: Any, writes: Sequence[Write]) -> Chain:
        """BEGIN; with events to append, the table's lock, the NOTIFY and the tails the
        chain needs, in one round trip: the chain to link them to."""
        if not any(write.events for write in writes):  # places, outbox rows, kept answers
            curs.execute("BEGIN")
            return Chain()
        wanted: dict[tuple[str, int], None] = {}
        for write in writes:
            events = [(canonical_id(e.originator_id), e.originator_version) for e in write.events]
            wanted.update(dict.fromkeys(record_tails_wanted(events, write.known_tails)))
        curs.execute(self._lock_and_read_tails(list(wanted)))
        while curs.nextset():  # to the last statement's rows: the tails
            pass
        tail, record_tails = None, {}
        for row in curs.fetchall():
            if row["originator_id"] is None:
                tail = row["hash"]
            else:
                record_tails[str(row["originator_id"])] = (row["originator_version"], bytes(row["hash"]))
        return Chain(tail and bytes(tail), record_tails)

    def _write(self, curs: Any, chain: Chain, write: Write) -> Appended:
        """One write of a group, inside its savepoint."""
        self._side_rows(curs, write)
        record = write.idempotency
        key = None if record is None else (record.scope, record.key, record.fingerprint, record.status, record.body)
        if not write.events:
            if key is not None:  # a command that changed nothing: its answer points at the log's end
                curs.execute(self.insert_key_at_end, key)
            return Appended([], {})
        chain.learn(write.known_tails)
        ids, rows = self._linked(chain, write.events)
        if len(rows) >= COPY_FROM:
            self._copy(curs, rows)
            curs.execute(self.last_positions, (len(rows),), prepare=True)
            positions = sorted(row["notification_id"] for row in curs.fetchall())
            if key is not None:
                curs.execute(self.insert_key_at_end, key)
        else:
            single = len(rows) == 1
            values = rows[0] if single else tuple(list(column) for column in zip(*rows))
            if key is None:
                curs.execute(self.insert_events_returning[single], values, prepare=True)
            else:
                curs.execute(self.insert_events_and_key[single], (*values, *key), prepare=True)
            positions = [row["notification_id"] for row in curs.fetchall()]
        return Appended(positions, {i: chain.record_tails[i] for i in ids})

    def _side_rows(self, curs: Any, write: Write) -> None:
        """A write's claims released and taken, a policy's place and its outbox rows."""
        for claim in write.releases:
            curs.execute(self.release_claim, (claim.scope, claim.value, uuid_text(claim.owner_id)))
        self._insert_claims(curs, write.claims)
        self._policy_rows(curs, write.tracking, write.outbox)

    @staticmethod
    def _linked(chain: Chain, stored_events: Sequence[StoredEvent]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The events' canonical ids, and their rows with their links."""
        ids = [canonical_id(e.originator_id) for e in stored_events]
        links = [chain.link(i, e.originator_version, e.topic, e.state) for i, e in zip(ids, stored_events)]
        rows = [
            (e.originator_id, e.originator_version, e.topic, e.state, link.hash, link.prev_hash)
            for e, link in zip(stored_events, links)
        ]
        return ids, rows

    def _append_alone(self, write: Write) -> Appended:
        """One write with events, in as few round trips as can be: the lock and the tails;
        the claims and policy rows (when there are); the events with the Idempotency-Key's
        answer and the COMMIT together."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            try:
                chain = self._begin(curs, [write])
                chain.learn(write.known_tails)
                self._side_rows(curs, write)
                ids, rows = self._linked(chain, write.events)
                tails = {i: chain.record_tails[i] for i in ids}  # the caller keeps them once committed
                if len(rows) >= COPY_FROM:
                    return Appended(self._copy_events(conn, curs, rows, write.idempotency), tails)
                single = len(rows) == 1
                values = rows[0] if single else tuple(list(column) for column in zip(*rows))
                # The insert and the COMMIT in one round trip (psycopg's pipeline mode): a
                # failed insert makes the server skip the COMMIT, and the error is raised here.
                with conn.pipeline():
                    if write.idempotency is None:
                        curs.execute(self.insert_events_returning[single], values, prepare=True)
                    else:
                        record = write.idempotency
                        params = (*values, record.scope, record.key, record.fingerprint, record.status, record.body)
                        curs.execute(self.insert_events_and_key[single], params, prepare=True)
                    conn.execute("COMMIT")
                positions = [row["notification_id"] for row in curs.fetchall()]
            except BaseException:
                conn.rollback()
                raise
        return Appended(positions, tails)

    def _policy_rows(self, curs: Any, tracking: Tracking | None, outbox: Sequence[tuple[Any, ...]]) -> None:
        if tracking is not None:
            curs.execute(self.move_tracking, (tracking.position, tracking.name, tracking.after))
            if curs.rowcount != 1:
                raise moved_elsewhere(tracking)
        if outbox:
            curs.executemany(self.upsert_outbox, outbox)

    def _insert_claims(self, curs: Any, claims: Sequence[Claim]) -> None:
        rows = [(claim.scope, claim.value, uuid_text(claim.owner_id)) for claim in claims]
        if len(rows) >= COPY_FROM:  # a batch's event ids
            with curs.copy(self.copy_claims) as copy:
                for row in rows:
                    copy.write_row(row)
        elif len(rows) == 1:
            curs.execute(self.insert_claim, rows[0])
        elif rows:
            curs.execute(self.insert_claims, tuple(list(column) for column in zip(*rows)))

    def _copy_events(self, conn: Any, curs: Any, rows: list[tuple[Any, ...]], record: IdempotencyRecord | None) -> list[int]:
        """A batch's events by binary COPY, several times faster than INSERT … unnest for
        thousands of rows. The table lock is held: the log's last positions are theirs.
        Then the positions, the Idempotency-Key's answer and the COMMIT in one round trip."""
        self._copy(curs, rows)
        with conn.pipeline():
            curs.execute(self.last_positions, (len(rows),), prepare=True)
            if record is not None:
                conn.execute(self.insert_key_at_end, (record.scope, record.key, record.fingerprint, record.status, record.body))
            conn.execute("COMMIT")
        return sorted(row["notification_id"] for row in curs.fetchall())

    def _copy(self, curs: Any, rows: list[tuple[Any, ...]]) -> None:
        with curs.copy(self.copy_events) as copy:
            copy.set_types(self.copy_types)
            for row in rows:
                copy.write_row(row)
