"""Whether the event store answers now, asked in a bounded time (GET /health, GET /readyz).

Not through the pool the commands use: during an outage its callers wait and retry (a
503 takes seconds), and under load its connections are busy. On PostgreSQL each probe
makes a connection of its own, with short connect and statement timeouts, reads the log's
end and closes it: a probe that answers "reachable" has just reached the server. The
caller waits at most ``wait`` seconds (libpq cannot connect in less than 2 s when the
host is silent): a probe that takes longer counts as "unreachable". One probe runs at a
time; callers that ask meanwhile share its answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from typing import ClassVar

from crm_es.store.event_store import EventStore
from crm_es.store.outage import one_line


@dataclass(frozen=True)
class Reach:
    reachable: bool
    position: int | None  # the log's end, when reached
    error: str | None = None


class StoreProbe:
    _probes: ClassVar[weakref.WeakKeyDictionary[EventStore, StoreProbe]] = weakref.WeakKeyDictionary()
    _probes_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def of(cls, store: EventStore) -> StoreProbe:
        with cls._probes_lock:
            probe = cls._probes.get(store)
            if probe is None:
                probe = cls._probes[store] = cls(store)
            return probe

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._running: Future[Reach] | None = None

    async def reach(self, wait: float) -> Reach:
        """The store's reach, known within ``wait`` seconds (without holding the event loop)."""
        started = time.monotonic()
        future = asyncio.wrap_future(self._start())
        done, _ = await asyncio.wait({future}, timeout=wait)  # no cancel: callers share the probe
        if not done:
            return Reach(False, None, f"no answer within {time.monotonic() - started:.1f} s")
        return future.result()

    def _start(self) -> Future[Reach]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                threading.Thread(target=self._probe, args=(self._running,), name="store-probe", daemon=True).start()
            return self._running

    def _probe(self, answer: Future[Reach]) -> None:
        try:
            position = self.store.db.probed_end()
            answer.set_result(Reach(True, position))
        except Exception as error:  # unreachable is an answer, not a failure
            answer.set_result(Reach(False, None, one_line(error)))
