"""The chain's verifications the auditors' pages start: each runs crm_es.audit.verify on a
thread of its own (a walk of the whole log takes seconds to minutes), and the pages read
how far it got while it runs.

Kept in this process's memory, like the sessions (session.py): a restart forgets them, and
with several workers each has its own. One runs at a time: a second start while one runs
answers the running one (walking the log twice at once only doubles the load).

Thread-safety: a run's progress is written by its worker thread and read by the request
threads, so every read and write of a run's mutable fields, and of the table of runs,
holds ``Runs._lock``; the pages get ``Snapshot``s, frozen copies taken under the lock, and
never a live ``Run``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_es.audit.verify import Verdict, verify_store

KEPT = 20  # finished runs kept for their pages; older ones are forgotten


@dataclass(frozen=True)
class Snapshot:
    """A run as it stood when asked: ``walked`` of ``total`` positions read so far."""

    id: str
    started_at: datetime
    expected_head: bytes | None
    walked: int
    total: int
    verdict: Verdict | None
    failure: str | None  # why the run could not finish (the store unreachable), else None

    @property
    def done(self) -> bool:
        return self.verdict is not None or self.failure is not None

    def progress(self) -> dict[str, Any]:
        """What the progress script reads: how far, and the verdict once done."""
        answer: dict[str, Any] = {"id": self.id, "checked": min(self.walked, self.total), "total": self.total,
                                  "done": self.done, "failure": self.failure}
        if self.verdict is not None:  # as GET /audit/verify answers it (expected_head always named)
            answer["verdict"] = {"expected_head": None, **self.verdict.as_dict()}
        return answer


@dataclass
class _Run:
    """A run's mutable state: only ever touched with ``Runs._lock`` held."""

    id: str
    started_at: datetime
    expected_head: bytes | None
    total: int
    walked: int = 0
    verdict: Verdict | None = None
    failure: str | None = None

    def snapshot(self) -> Snapshot:
        return Snapshot(self.id, self.started_at, self.expected_head, self.walked, self.total, self.verdict,
                        self.failure)


class Stopped(Exception):
    """The service is closing: the walk ends at its next page."""


class Runs:
    def __init__(self, store: Any, now: Callable[[], datetime]) -> None:
        self.store, self.now = store, now
        self._runs: dict[str, _Run] = {}  # in the order started
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, expected_head: bytes | None) -> tuple[Snapshot, bool]:
        """A new run started on its thread, or the one running already; and whether it is new."""
        total = self.store.max_position()  # read before taking the lock: no I/O under it
        with self._lock:
            running = next((run for run in self._runs.values() if run.verdict is None and run.failure is None), None)
            if running is not None:
                return running.snapshot(), False
            run = _Run(secrets.token_urlsafe(12), self.now(), expected_head, total)
            self._runs[run.id] = run
            self._forget_old()
            started = run.snapshot()
        thread = threading.Thread(target=self._walk, args=(run,), name=f"verification-{run.id}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return started, True

    def stop(self, seconds: float = 10) -> None:
        """Before the store closes: a running walk ends at its next page (a page read from a
        store being closed could fail in any way), waited for up to ``seconds``."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(seconds)

    def find(self, run_id: str) -> Snapshot | None:
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else run.snapshot()

    def recent(self) -> list[Snapshot]:
        """The runs kept, newest first."""
        with self._lock:
            return [run.snapshot() for run in reversed(self._runs.values())]

    def _walk(self, run: _Run) -> None:
        def advanced(positions: int) -> None:
            if self._stopping.is_set():
                raise Stopped("the service is closing")
            with self._lock:
                run.walked += positions

        try:
            verdict = verify_store(self.store, expected_head=run.expected_head, progress=advanced)
        except Exception as error:  # noqa: BLE001 - on a thread of its own: say why on the page, never hang "running"
            with self._lock:
                run.failure = f"{type(error).__name__}: {error}"
            return
        with self._lock:
            run.verdict = verdict
            # Events written while it ran: the walk went past the total counted at the start.
            run.total = max(run.total, run.walked)

    def _forget_old(self) -> None:
        finished = [run_id for run_id, run in self._runs.items() if run.verdict is not None or run.failure is not None]
        for run_id in finished[:max(len(finished) - KEPT, 0)]:
            del self._runs[run_id]


def runs_of(app: Any) -> Runs:
    """The app's runs, made at first use (on the event loop, so made once), on the services'
    store and clock."""
    runs = getattr(app.state, "verification_runs", None)
    if runs is None:
        services = app.state.services
        runs = app.state.verification_runs = Runs(services.store, services.clock.now)
    return runs


def stop_runs(app: Any) -> None:
    """The app's runs stopped, if any was made (the app's shutdown, before the store closes)."""
    runs = getattr(app.state, "verification_runs", None)
    if runs is not None:
        runs.stop()
