"""Our recorders pass the `eventsourcing` library's own conformance cases: they replace
the library's PostgreSQL insert and extend its SQLite one, so they must still keep
positions gap-free, in commit order, and never interleave concurrent writers."""

from __future__ import annotations

import os
import tempfile
import uuid
from urllib.parse import urlsplit

import psycopg
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase

from conftest import PG_URL, require_postgres
from crm_es.store.postgres.recorder import CrmPostgresRecorder
from crm_es.store.sqlite.recorder import CrmSQLiteRecorder


class OnSQLite:
    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        self.path = tempfile.mktemp(suffix=".sqlite3")

    def tearDown(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)
        super().tearDown()  # type: ignore[misc]

    def create_recorder(self) -> CrmSQLiteRecorder:
        recorder = CrmSQLiteRecorder(SQLiteDatastore(db_name=self.path))
        recorder.create_table()
        return recorder


class OnPostgres:
    def setUp(self) -> None:
        require_postgres()
        super().setUp()  # type: ignore[misc]
        self.schema = f"conf_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        self.datastores: list[PostgresDatastore] = []

    def tearDown(self) -> None:
        for datastore in self.datastores:
            datastore.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        super().tearDown()  # type: ignore[misc]

    def create_recorder(self) -> CrmPostgresRecorder:
        url = urlsplit(PG_URL)
        datastore = PostgresDatastore(
            dbname=url.path.lstrip("/"), host=url.hostname or "127.0.0.1", port=str(url.port or 5432),
            user=url.username or "postgres", password=url.password or "", schema=self.schema,
        )
        self.datastores.append(datastore)
        recorder = CrmPostgresRecorder(datastore, events_table_name="crm_events")
        recorder.create_table()
        return recorder


class SkipTheLibrarysTimings:
    # The library's own timing loops only print figures: bench/ measures ours.
    test_performance = None
    test_concurrent_throughput = None


class TestSQLiteRecorderConformance(OnSQLite, SkipTheLibrarysTimings, ApplicationRecorderTestCase):
    pass


class TestPostgresRecorderConformance(OnPostgres, SkipTheLibrarysTimings, ApplicationRecorderTestCase):
    pass


class TestSQLiteWritersNeverInterleave(OnSQLite, NonInterleavingNotificationIDsBaseCase):
    pass


class TestPostgresWritersNeverInterleave(OnPostgres, NonInterleavingNotificationIDsBaseCase):
    pass
