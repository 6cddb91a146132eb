"""One line in the log when the event store becomes unavailable, one when it is back.

An outage reaches every part of the service at once: the connection pool, the commands
(503), the LISTEN thread, the projector, the automations' rounds, their job store and
their leader lock. Each reports what it meets here rather than logging it, so the log of
an outage is one line saying what failed and that everything retries, a reminder each
minute while it lasts, and one line when the store answers again — not a line (or a
traceback) per request, per thread and per second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from crm_es.store.values import StoreUnavailable

log = logging.getLogger("crm_es.store")

REMIND_SECONDS = 60.0  # while an outage lasts, a line this often
QUIET_SECONDS = 30.0  # a failure after this long without one starts a new outage (SQLite never says "back")
# Failures this soon after the store was reached again are the outage's tail (a request that
# began waiting before), not a new outage.
TAIL_SECONDS = 2.0
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, psycopg.OperationalError,
                                                   psycopg.InterfaceError)


def is_outage(error: BaseException) -> bool:
    """Whether an error (or one it was raised from) says the store could not be reached or
    used — not that a statement or the data was wrong."""
    from sqlalchemy.exc import InterfaceError as SqlInterfaceError
    from sqlalchemy.exc import OperationalError as SqlOperationalError

    seen: BaseException | None = error
    for _ in range(5):  # a short chain: a library's error wraps the driver's
        if seen is None:
            return False
        if isinstance(seen, (*OUTAGE_ERRORS, SqlOperationalError, SqlInterfaceError, StoreUnavailable)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def one_line(error: BaseException | str) -> str:
    """An error as one short line: a driver's message adds lines of hints ("Is the server
    running on that host …")."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    text = next((line.strip() for line in text.splitlines() if line.strip()), text)
    return text if len(text) <= 240 else text[:237] + "..."


class Outage:
    def __init__(self, what: str = "event store", clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.clock = what, clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_failure = 0.0
        self._last_line = 0.0
        self._back_at = float("-inf")

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, error: BaseException | str) -> None:
        now = self.clock()
        with self._lock:
            if self._down_since is not None and now - self._last_failure > QUIET_SECONDS:
                self._down_since = None  # an old outage nobody said was over
            self._last_failure = now
            if self._down_since is None:
                if now - self._back_at < TAIL_SECONDS:
                    return
                self._down_since = self._last_line = now
                log.warning("%s unavailable (%s): commands answer 503 with Retry-After until it is back; the read "
                            "side and the automations wait and retry by themselves", self.what, one_line(error))
            elif now - self._last_line >= REMIND_SECONDS:
                self._last_line = now
                log.warning("%s still unavailable after %.0f s (%s); retrying", self.what, now - self._down_since,
                            one_line(error))

    def recovered(self) -> None:
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            self._back_at = self.clock()
            down_for, self._down_since = self._back_at - self._down_since, None
            log.warning("%s available again after %.1f s", self.what, down_for)


STORE = Outage()  # the process's event store (one per process: `crm-es serve` opens one)
