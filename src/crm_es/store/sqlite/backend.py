"""The SQLite backend: its recorder, its reads of the log, claims and side tables, and
what the service keeps beside the store's file (the automations' lock, the job store)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crm_es.store.sqlite.claims import SQLiteClaims
from crm_es.store.sqlite.leader import FileLock
from crm_es.store.sqlite.log import SQLiteLog
from crm_es.store.sqlite.recorder import CrmSQLiteRecorder
from crm_es.store.sqlite.tables import SQLiteTables
from crm_es.store.values import SideDatabase


class SQLiteBackend:
    name = "sqlite"
    channel = None  # no NOTIFY: the projector polls (and is woken by saves in this process)

    def __init__(self, recorder: CrmSQLiteRecorder, env: Mapping[str, str]) -> None:
        self.recorder, self.env = recorder, env
        self.tables = SQLiteTables(recorder)
        self.log = SQLiteLog(recorder)
        self.claims = SQLiteClaims(recorder, self.tables)

    @property
    def address(self) -> str:
        return f"sqlite:{Path(self.env['SQLITE_DBNAME']).resolve()}"

    def probed_end(self) -> int:
        return self.log.end()  # a local file: no connection to wait for

    def follow_inserts(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """SQLite signals nothing: the followers poll."""

    def leader_lock(self, name: str, lock_file: Path) -> Any:
        return FileLock(lock_file)  # the file is the lock's name

    def side_database(self, file: Path) -> SideDatabase:
        return SideDatabase(f"sqlite:///{file}", None, remote=False)
