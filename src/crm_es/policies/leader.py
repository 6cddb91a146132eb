"""One active policy runner per store: the others stand by and take over when it dies.

On PostgreSQL: a session advisory lock, held by a connection of its own; it goes with the
connection, so a runner killed (or cut off) frees it and a standby's next try wins it.
On SQLite: an exclusive ``flock`` on a file beside the store, freed by the OS when the
process dies. Either way the lock is for calm, not for safety: a policy's place in the
log moves only from where it was read (policies/runtime.py), so even two active runners
could not act twice on one event.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from pathlib import Path
from typing import Any

import psycopg

from crm_es.store import EventStore
from crm_es.store.outage import STORE, one_line
from crm_es.store.pg_pool import side_connection


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, from the store's schema and table."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


ACTIVE, STANDING_BY = "this process runs them", "another runner runs them"


class Leadership:
    def __init__(self, store: EventStore, lock_file: Path) -> None:
        self.store, self.lock_file = store, lock_file
        self._held: Any = None  # the connection or the open file that holds the lock
        # What the last try found: ACTIVE, STANDING_BY, or why no runner is known (the
        # store could not be asked: an outage is not "another runner is active").
        self.status = "not asked yet"

    @property
    def held(self) -> bool:
        return self._held is not None

    @property
    def known(self) -> bool:
        """Whether the automations' runner is known (this process or another)."""
        return self.status in (ACTIVE, STANDING_BY)

    def acquire(self) -> bool:
        """True when this runner holds the lock (kept, or just won)."""
        if self._held is not None and self._still_held():
            return True
        self.release()
        try:
            self._held = self._try_postgres() if self.store.is_postgres else self._try_file()
        except (OSError, psycopg.Error) as error:
            self.status = f"unknown: the lock could not be asked for ({one_line(error)})"
            if self.store.is_postgres:
                STORE.failed(error)
            return False
        self.status = STANDING_BY if self._held is None else ACTIVE
        if self.store.is_postgres:
            STORE.recovered()
        return self._held is not None

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                held.close()  # closing the connection or the file frees the lock

    def _try_postgres(self) -> Any:
        env = self.store.env
        conn = side_connection(env)
        key = _lock_key(f"{env.get('POSTGRES_SCHEMA', 'public')}.{self.store.recorder.events_table_name}.policies")
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            return conn
        conn.close()
        return None

    def _try_file(self) -> Any:
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_file.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return handle

    def _still_held(self) -> bool:
        if not self.store.is_postgres:
            return True  # a flock lasts as long as the open file
        try:
            self._held.execute("SELECT 1")
            return True
        except psycopg.Error:  # the connection is gone, and the lock with it
            return False
