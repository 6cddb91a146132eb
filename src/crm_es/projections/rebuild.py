"""Blue-green rebuilds of the read side, the service answering throughout.

A new DuckDB file is built from the events beside the live one, by a projector of its own.
Once it has followed the log to its head, the live projector hands over to it under its lock
(`Projector.take_over`): the few events saved meanwhile go into the new file, which takes
the live one's name, and the projector and every reader move to it at once. Until then
readers see the old side, commands are decided and saved as ever, and the live projector
keeps following the log. A failure, or a crash, before the swap leaves the live side as it
was: the new file is removed then, or at the read side's next opening.

`crm-es serve` runs one in a thread of its own (POST /read-side/rebuild, its progress at
GET /read-side/rebuild); `crm-es rebuild` with no service running, the same in the
foreground. One at a time: a second is refused while one runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from crm_es.clock import Clock
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector

log = logging.getLogger("crm_es.projections")

RUNNING = ("building", "swapping")
# How long the old side's connection is held after a swap, so that the queries still reading
# it finish first and DuckDB closes it here, not in one of them (a SQL query's own limit is 10 s).
RETIRE_SECONDS = 15.0


@dataclass(frozen=True)
class RebuildProgress:
    state: str  # idle (none asked for yet) · building · swapping · done · failed
    started_at: datetime | None = None
    finished_at: datetime | None = None
    events: int = 0  # projected into the new side so far
    position: int = 0  # the new side's position (once done: the read side's)
    head: int = 0  # the log's last position, when last looked
    keep_old: bool = False
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RebuildRunning(Exception):
    """A rebuild was asked for while one runs."""

    def __init__(self, progress: RebuildProgress) -> None:
        since = progress.started_at.isoformat(timespec="seconds") if progress.started_at else "now"
        super().__init__(f"a rebuild of the read side is running since {since}: "
                         f"at position {progress.position} of {progress.head}")
        self.progress = progress


class Cancelled(Exception):
    """The service stops: the rebuild is given up, the live side left as it is."""


class BlueGreen:
    """Rebuilds of the read side that ``projector`` writes, one at a time."""

    def __init__(self, projector: Projector, clock: Clock) -> None:
        self.projector = projector
        self.clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = RebuildProgress("idle")

    @property
    def progress(self) -> RebuildProgress:
        return self._progress

    def start(self, keep_old: bool = False) -> RebuildProgress:
        """A rebuild in a thread of its own; its progress at once (RebuildRunning if one runs)."""
        with self._lock:
            self._begin(keep_old)
            self._thread = threading.Thread(target=self._in_background, args=(keep_old,), name="read-side-rebuild",
                                            daemon=True)
            self._thread.start()
            return self._progress

    def run(self, keep_old: bool = False, progress: Callable[[int], None] | None = None) -> RebuildProgress:
        """A rebuild in this thread, told to ``progress`` batch by batch; raises what failed it."""
        with self._lock:
            self._begin(keep_old)
        self._rebuild(keep_old, progress)  # the old side is let go at once: nothing else reads it
        return self._progress

    def cancel(self) -> None:
        """Give up a running rebuild (at its next batch) and wait for it to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _begin(self, keep_old: bool) -> None:
        if self._progress.running:
            raise RebuildRunning(self._progress)
        self._stop.clear()
        self._progress = RebuildProgress("building", started_at=self.clock.now(),
                                         head=self.projector.store.max_position(), keep_old=keep_old)

    def _in_background(self, keep_old: bool) -> None:
        try:
            old = self._rebuild(keep_old, None)
            self._stop.wait(RETIRE_SECONDS)
            del old  # closed by DuckDB here, unless a reader still holds it
        except Cancelled:
            log.warning("read side rebuild given up: the service stops")
        except Exception as error:  # told at GET /read-side/rebuild; the live side is as it was
            log.warning("read side rebuild failed: %s: %s", type(error).__name__, error)

    def _rebuild(self, keep_old: bool, tick: Callable[[int], None] | None) -> duckdb.DuckDBPyConnection:
        """The new side built and swapped in; the old side's connection, to let go."""
        live = self.projector
        side: ReadSide | None = None
        done = 0

        def advanced(n: int) -> None:
            nonlocal done
            if self._stop.is_set():
                raise Cancelled()
            done += n
            self._progress = replace(self._progress, events=done, position=built.position,
                                     head=max(live.store.max_position(), built.position))
            if tick is not None:
                tick(n)

        try:
            side = live.read_side.beside()
            built = Projector(live.store, side, batch_size=live.batch_size)
            built.catch_up(progress=advanced)  # to the head, as it moves
            side.checkpoint()  # made durable under its own name now, not during the swap
            built.catch_up(progress=advanced)  # what was saved during the checkpoint
            self._progress = replace(self._progress, state="swapping")
            swapping = time.perf_counter()
            old = live.take_over(built, keep_old, progress=advanced)
            log.warning("read side rebuilt from %d events and swapped in at position %d (the swap took %.1f ms)",
                        done, live.position, (time.perf_counter() - swapping) * 1000)
        except BaseException as error:
            if side is not None and live.read_side.db is not side.db:  # not swapped in: the live side is untouched
                side.discard()
            self._progress = replace(self._progress, state="failed", finished_at=self.clock.now(),
                                     error="the service stopped" if isinstance(error, Cancelled)
                                     else f"{type(error).__name__}: {error}")
            raise
        self._progress = replace(self._progress, state="done", finished_at=self.clock.now(), events=done,
                                 position=live.position, head=max(self._progress.head, live.position))
        return old
