"""Following PostgreSQL's NOTIFY: the library signals on its channel on each insert, and a
process that listens wakes its projector and automations at once instead of at the next
poll (the poll keeps them moving meanwhile, through an outage too)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from psycopg.sql import SQL, Identifier

from crm_es.store.outage import STORE, is_outage
from crm_es.store.pg_pool import side_connection

log = logging.getLogger("crm_es")


def follow_inserts(env: Mapping[str, str], channel: str, stop: threading.Event, wake: Callable[[], None]) -> None:
    """Call ``wake()`` on each insert into the log, until ``stop`` is set."""
    while not stop.is_set():
        try:
            with side_connection(env) as conn:
                conn.execute(SQL("LISTEN {}").format(Identifier(channel)))
                STORE.recovered()
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake()
        except Exception as error:  # the poll keeps the read side moving meanwhile
            if is_outage(error):
                STORE.failed(error)  # one line for the whole outage, not one a second
            else:
                log.warning("LISTEN failed (%s); retrying", error)
            stop.wait(1.0)
