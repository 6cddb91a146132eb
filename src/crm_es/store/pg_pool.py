"""The event store's PostgreSQL connection pool, made ready for outages.

The library builds its pool (psycopg_pool, through eventsourcing.postgres) with defaults
for a database that is always there, and an outage showed it:

- a lost connection is made again with an exponential backoff (1, 2, 4 … s, for up to
  5 minutes): after a 35 s outage the next try could be half a minute away, and commands
  kept failing for ~19 s after PostgreSQL was back;
- a command waits up to POSTGRES_CONNECT_TIMEOUT (5 s) for a connection, and the library
  tries ten times: 50 s before a 503 while no connection can come;
- connecting has no time limit: a host that does not answer holds a pool worker for minutes.

Here a slot whose connection is lost gives up after RECONNECT_SECONDS, so the pool grows
again at the next demand with a try at once (then about one a second while the demand
lasts); while the last try to connect failed, a caller waits only OUTAGE_WAIT for a
connection (a 503 in a few seconds, not 50); the first failure also checks the idle
connections, so that none left dead by a restart is handed out once the database is back;
and connecting gives up after CONNECT_SECONDS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from eventsourcing.postgres import ConnectionPool, PostgresDatastore

from crm_es.store.outage import STORE

RECONNECT_SECONDS = 1.5  # a lost connection's slot tries again (after 1 s) then makes way for a new try
OUTAGE_WAIT = 0.25  # seconds a caller waits for a connection while the database did not answer the last try
CONNECT_SECONDS = 2  # libpq's connect_timeout (2 s is the least it takes)


class OutageReadyPool(ConnectionPool):  # type: ignore[type-arg]
    unreachable = False  # the last try to connect failed, and none has succeeded since

    def _connect(self, timeout: float | None = None) -> Any:
        try:
            conn = super()._connect(timeout)
        except Exception as error:
            first = not self.unreachable
            self.unreachable = True
            STORE.failed(error)
            if first:  # the idle connections are likely dead too (a restart): find them now
                self.check()
            raise
        self.unreachable = False
        STORE.recovered()
        return conn

    def getconn(self, timeout: float | None = None) -> Any:
        if self.unreachable:  # no connection will come soon: a short wait lets a reconnection in
            timeout = min(self.timeout if timeout is None else timeout, OUTAGE_WAIT)
        return super().getconn(timeout)


def prepare_for_outages(factory: Any) -> None:
    """Before the pool first opens (called as the application builds its factory)."""
    datastore = getattr(factory, "datastore", None)
    if not isinstance(datastore, PostgresDatastore):
        return
    pool = datastore.pool
    # The library makes its pool itself, with no way to name the class: the one above
    # only adds to the methods, so the object becomes one of it.
    pool.__class__ = OutageReadyPool
    pool.reconnect_timeout = RECONNECT_SECONDS
    pool.kwargs = {**(pool.kwargs or {}), "connect_timeout": CONNECT_SECONDS}


def side_connection(env: Mapping[str, str], **options: Any) -> psycopg.Connection[Any]:
    """A connection of its own to the store's database, not from the pool (LISTEN, the
    automations' lock, the health probe), in autocommit, giving up connecting after
    CONNECT_SECONDS as the pool's do: a silent host must not hold its thread."""
    return psycopg.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=env["POSTGRES_DBNAME"],
                           user=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None, autocommit=True,
                           connect_timeout=CONNECT_SECONDS, **options)
