"""The event store's SQLite connection pool, made for a serving process.

The library's pool, as it comes, cost a loaded service most of its throughput (py-spy,
issue 18):

- It keeps 5 connections and lends 10 more, closing each of those as it comes back. The
  HTTP routes run on a thread pool of 40 (anyio's default), so under load most requests
  opened a fresh connection — opening the file and parsing the schema at its first
  statement — and closed it again. A SQLite connection costs a file handle and a page
  cache: the pool now keeps one for every thread that can ask at once.
- A writer waits for the one writer's lock while holding the pool's queue, so every other
  caller — readers too, which SQLite's WAL never makes wait — queued behind it until the
  writer before had committed. Here a writer waits for that lock first, aside, then joins
  the queue: writers still take turns, and readers pass.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from eventsourcing.persistence import ConnectionUnavailableError
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteDatastore

REQUEST_THREADS = 40  # anyio's default thread limiter, which FastAPI's sync routes and run_in_threadpool use
SERVICE_THREADS = 8  # the service's own threads that read or write the store
SQLITE_OVERFLOW = 16  # more threads than that (tests, scripts): lent, then closed


class WritersWaitAside(SQLiteConnectionPool):
    def get_connection(self, timeout: float | None = None, *, is_writer: bool | None = None) -> SQLiteConnection:
        if is_writer is not True or self._mutually_exclusive_read_write:  # an in-memory database keeps the library's way
            return super().get_connection(timeout, is_writer=is_writer)
        timeout = self.pool_timeout if timeout is None else timeout
        started = monotonic()
        if not self._writer_lock.acquire(timeout=timeout):
            raise ConnectionUnavailableError("Timed out waiting for return of writer")
        try:
            conn = super().get_connection(max(timeout - (monotonic() - started), 0.0), is_writer=None)
        except BaseException:
            self._writer_lock.release()
            raise
        conn.is_writer = True  # put_connection releases the writer's lock
        self._num_writers += 1  # (under the lock: one writer at a time)
        return conn


def prepare_sqlite_pool(factory: Any) -> None:
    """Before the pool first opens (called as the application builds its factory)."""
    datastore = getattr(factory, "datastore", None)
    if not isinstance(datastore, SQLiteDatastore):
        return
    pool = datastore.pool
    # The library makes its pool itself, with no way to name the class: the one above
    # only changes how a writer waits, so the object becomes one of it.
    pool.__class__ = WritersWaitAside
    pool.pool_size = REQUEST_THREADS + SERVICE_THREADS
    pool.max_overflow = SQLITE_OVERFLOW
