"""A lock only one process holds at a time on a PostgreSQL store: a session advisory lock,
held by a connection of its own; it goes with the connection, so a holder killed (or cut
off) frees it and the next try elsewhere wins it. Reaching the lock reports to the
store's outage log (store/outage.py)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from typing import Any

import psycopg

from crm_es.store.outage import STORE, one_line
from crm_es.store.pg_pool import side_connection
from crm_es.store.values import LockUnknown


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLock:
    def __init__(self, env: Mapping[str, str], name: str) -> None:
        self.env, self.key = env, lock_key(name)
        self._conn: Any = None  # the connection that holds the lock

    @property
    def held(self) -> bool:
        return self._conn is not None

    def still_held(self) -> bool:
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:  # the connection is gone, and the lock with it
            return False

    def try_acquire(self) -> bool:
        """True when won; False when another process holds it."""
        try:
            conn = side_connection(self.env)
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]:
                conn.close()
                conn = None
        except (OSError, psycopg.Error) as error:
            STORE.failed(error)
            raise LockUnknown(one_line(error)) from error
        STORE.recovered()
        self._conn = conn
        return conn is not None

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()  # closing the connection frees the lock
