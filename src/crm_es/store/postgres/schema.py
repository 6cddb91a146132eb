"""The PostgreSQL store's tables: the library's events table with the hash chain's
columns, the side tables of store/schema.py (``<events table>_<name>`` in the store's
schema), and the auditors' JSON view; a store from before the hash chain is chained
once, when it is opened, by the first process to get there."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from crm_es.store.chain import Chain, canonical_id
from crm_es.store.schema import CLAIMS_COLUMNS, POLICY_INDEXES, POLICY_TABLES

BACKFILL_PAGE = 1000


class PostgresSchema(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.idempotency_table = SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_idempotency_keys"))
        self.claims_table = SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_unique_claims"))
        self.events = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        self.policy_tables = {name: SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_{name}"))
                              for name in POLICY_TABLES}
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
            ).format(SQL("{}.{}").format(schema, Identifier(f"{self.events_table_name}_json")), self.events),
            *(SQL("CREATE TABLE IF NOT EXISTS {} (" + columns + ")").format(self.policy_tables[name])
              for name, columns in POLICY_TABLES.items()),
            *(SQL("CREATE INDEX IF NOT EXISTS {} ON {} (" + columns + ")").format(
                Identifier(f"{self.events_table_name}_{table}_{suffix}"), self.policy_tables[table])
              for table, indexes in POLICY_INDEXES.items() for suffix, columns in indexes),
        ]

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
