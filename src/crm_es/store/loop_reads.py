"""Small reads of a side table from the event loop itself, with no thread-pool hop.

Every request but the public ones looks its API key up (auth: revoking a key refuses it
from the next request on, in every process, so the table is asked each time). Done on the
thread pool, that one-row read cost a loaded service more than half its throughput
(py-spy, issue 18: the hop, the pool's locks and BEGIN / SELECT / ROLLBACK, each handing
the GIL back and waiting to take it again behind the event loop). Here it is one
statement, awaited on the loop:

- SQLite: a connection of its own, read-only, in autocommit (one statement, no BEGIN). A
  read of a WAL database does not wait for writers, so the loop blocks for the few
  microseconds the lookup takes; should the file be busy anyway (a recovery) or fail, the
  read runs again on the thread pool, where waiting harms nobody and errors are reported
  as everywhere else.
- PostgreSQL: psycopg's asyncio pool of a few connections: the round trip is awaited, the
  loop serves other requests meanwhile.

Opened and closed by the app's lifespan, on the loop that uses it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from anyio import to_thread  # the thread pool FastAPI's sync routes use: the store needs no web framework
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from crm_es.store.outage import STORE
from crm_es.store.values import StoreUnavailable

BUSY_SECONDS = 0.005  # SQLite: how long the loop may wait for a busy file before the thread pool takes over
PG_CONNECTIONS = 4  # the loop awaits one round trip each; a few cover a busy service
PG_WAIT = 5.0  # seconds a read waits for a connection (POSTGRES_CONNECT_TIMEOUT's default)
PG_OUTAGE_WAIT = 0.25  # …while the last try to connect failed: a quick 503, as the store's own pool does
RECONNECT_SECONDS = 1.5  # as store/pg_pool.py: a lost connection is tried again soon, not after a backoff


Compose = Callable[[str], Any]  # a side-table statement as the backend runs it (SideTables.sql)


class SQLiteLoopReads:
    """One read-only connection, used only from the loop (a lock guards it for the tests'
    several loops in one process; on one loop it is never contended). ``fallback`` reads
    the same statement on the thread pool's connections."""

    def __init__(self, path: str | None, compose: Compose, fallback: Callable[[str, tuple[Any, ...]], list[Any]]) -> None:
        self.path, self.compose, self.fallback = path, compose, fallback
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        if self.path is None:  # no file to open a connection of our own to
            return
        connection = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA query_only = ON")
        self._connection = connection

    async def read(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows by column name; ``statement`` written as for SideTables (``{api_keys}``, ``?``)."""
        if self._connection is None:
            return await to_thread.run_sync(self.fallback, statement, params)
        try:
            with self._lock:
                return self._connection.execute(self.compose(statement), params).fetchall()
        except sqlite3.OperationalError:
            # Busy, or worse: the pool's connections, on the thread pool, wait out a busy file
            # and report an unusable one as the rest of the service does (a 503 in an outage).
            return await to_thread.run_sync(self.fallback, statement, params)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresLoopReads:
    def __init__(self, connect: dict[str, Any], compose: Compose) -> None:
        self.compose = compose
        self.pool = AsyncConnectionPool(kwargs={**connect, "autocommit": True, "row_factory": dict_row},
                                        min_size=1, max_size=PG_CONNECTIONS, open=False, timeout=PG_WAIT,
                                        reconnect_timeout=RECONNECT_SECONDS, name="crm-es-loop-reads")

    async def open(self) -> None:
        await self.pool.open(wait=False)  # the service starts even while the database is away

    async def read(self, statement: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            async with self.pool.connection(timeout=PG_OUTAGE_WAIT if STORE.down else PG_WAIT) as connection:
                cursor = await connection.execute(self.compose(statement), params)
                return await cursor.fetchall()
        except PoolTimeout as error:
            raise StoreUnavailable(f"no connection to the event store's database: {error}") from error

    async def close(self) -> None:
        await self.pool.close()
