"""The PostgreSQL backend: its recorder, its reads of the log, claims and side tables, and
what the service keeps in the store's schema (the automations' lock, the job store)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crm_es.store.postgres import notify
from crm_es.store.postgres.claims import PostgresClaims
from crm_es.store.postgres.leader import AdvisoryLock
from crm_es.store.postgres.log import PostgresLog
from crm_es.store.postgres.recorder import CrmPostgresRecorder
from crm_es.store.postgres.tables import PostgresTables
from crm_es.store.values import SideDatabase


class PostgresBackend:
    name = "postgresql"

    def __init__(self, recorder: CrmPostgresRecorder, env: Mapping[str, str]) -> None:
        self.recorder, self.env = recorder, env
        self.tables = PostgresTables(recorder)
        self.log = PostgresLog(recorder)
        self.claims = PostgresClaims(recorder, self.tables)
        self.channel: str | None = recorder.channel_name  # the NOTIFY channel the library signals on each insert

    @property
    def address(self) -> str:
        env = self.env
        return f"postgresql:{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}" \
               f"/{env.get('POSTGRES_SCHEMA') or 'public'}"

    def probed_end(self) -> int:
        return self.log.probed_end(self.env)

    def follow_inserts(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        if self.channel is not None:
            notify.follow_inserts(self.env, self.channel, stop, wake)

    def leader_lock(self, name: str, lock_file: Path) -> Any:
        schema = self.env.get("POSTGRES_SCHEMA", "public")
        return AdvisoryLock(self.env, f"{schema}.{self.recorder.events_table_name}.{name}")

    def side_database(self, file: Path) -> SideDatabase:
        # Only for the job store: not loaded by every tool that opens the store.
        from sqlalchemy import URL

        env = self.env
        url = URL.create("postgresql+psycopg", username=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None,
                         host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), database=env["POSTGRES_DBNAME"])
        return SideDatabase(url, env.get("POSTGRES_SCHEMA") or None, remote=True)
