"""When the automations run: APScheduler, with a persistent job store.

The active runner (policies/leader.py) runs one APScheduler ``BackgroundScheduler`` with
two jobs, both running one round (policies/service.py: the policies read the log, then
the due messages and timers go out):

- ``automations-round``, every ``poll_seconds``: another process may have written;
- ``automations-next-due``, at the time the outbox says the next message or timer is due
  (a follow-up in 3 days, a report on Monday 08:00, a retry in 4 minutes), set again after
  each round;

and beside them one thread of its own that runs a round when this process saved something
(``wake``: a policy may have something to react to). Not an APScheduler job brought
forward: that path (the job store's update, the scheduler's thread woken, the executor's
hand-over) cost a command more than the round itself, one client's commands running at
two-thirds of their speed with the automations on. Rounds never overlap: one lock.

The next-due job lives in a persistent job store beside the event store (APScheduler's
``SQLAlchemyJobStore``: the table ``scheduler_jobs`` in the store's PostgreSQL schema, or
``scheduler.sqlite3`` beside the SQLite store), so a restarted runner finds the next due
time where the last one left it; it is written only when that time changes. The poll is
in memory: made again at each start, and kept on disk it would be a write every half-second.

The log stays the truth. What is due is decided inside the round by the injected clock
(a test runs a year of automations in seconds by calling the round itself); APScheduler
only decides when to look. A job lost costs at most one poll, a job run twice finds
nothing due. Only the active runner runs a scheduler: APScheduler 3 does not coordinate
two schedulers sharing one job store.

A busy service stays quiet: a burst of saves asks for one round, not one each (a round
already asked for and not yet started will read them all; any round started serves what
was asked before it), and a round asked for while one runs and another waits is dropped
rather than refused with APScheduler's warning.
When the store is out of reach, the job store's reads say "nothing due" and its writes
are dropped, with one line for the whole outage (store/outage.py): APScheduler 3 lets an
error of ``get_next_run_time`` end its thread, and logs one of ``get_due_jobs`` at every
look. The next round after the outage writes the next due time again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import InterfaceError, OperationalError

from crm_es.store import EventStore
from crm_es.store.outage import STORE

log = logging.getLogger("crm_es.policies")
# A round every half-second would fill an INFO log with "Running job …" lines: its failures
# are logged by the round itself (policies/service.py).
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

ROUND, NEXT_DUE = "automations-round", "automations-next-due"
JOBS_TABLE = "scheduler_jobs"
SQLITE_FILE = "scheduler.sqlite3"

# The rounds of the runner active in this process, by store: a persistent job names its
# function by reference (module:function) and its store by key, as APScheduler requires
# of jobs it keeps, so a job read back after a restart finds the new runner's round.
_ROUNDS: dict[str, Callable[[], Any]] = {}


def run_round(key: str) -> None:
    """What every job runs: the round of this process's active runner on that store."""
    round_ = _ROUNDS.get(key)
    if round_ is None:  # the runner stopped while the job waited in the executor
        log.info("scheduler: no active runner for %s", key)
        return
    round_()


class OutageProofJobStore(SQLAlchemyJobStore):
    """The SQLAlchemy job store in the event store's PostgreSQL, through an outage: reads find
    nothing due, writes are dropped (see the module's docstring), each failure reported to
    the outage log."""

    def _quietly(self, call: Callable[..., Any], fallback: Any, *args: Any) -> Any:
        try:
            answer = call(*args)
        except (OperationalError, InterfaceError) as error:
            STORE.failed(error)
            return fallback
        STORE.recovered()
        return answer

    def lookup_job(self, job_id: str) -> Any:
        return self._quietly(super().lookup_job, None, job_id)

    def get_due_jobs(self, now: datetime) -> Any:
        return self._quietly(super().get_due_jobs, [], now)

    def get_next_run_time(self) -> Any:
        return self._quietly(super().get_next_run_time, None)

    def add_job(self, job: Any) -> None:
        self._quietly(super().add_job, None, job)

    def update_job(self, job: Any) -> None:
        self._quietly(super().update_job, None, job)

    def remove_job(self, job_id: str) -> None:
        self._quietly(super().remove_job, None, job_id)


class RoundsExecutor(ThreadPoolExecutor):
    """One worker. A round asked for while one runs and another waits adds nothing (the one
    waiting reads the log to its end): dropped here rather than refused by APScheduler,
    which logs a warning each time (~1,800 in a burst of 2,000 commands)."""

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        assert self._lock is not None, "started by the scheduler"
        with self._lock:  # the base class's check, under the same (reentrant) lock
            if self._instances[job.id] >= job.max_instances:
                return
            super().submit_job(job, run_times)


def job_store_for(store: EventStore, data_dir: Path) -> SQLAlchemyJobStore:
    """The persistent job store beside the event store."""
    jobs = store.side_database(data_dir / SQLITE_FILE)
    if jobs.remote:
        return OutageProofJobStore(url=jobs.url, tablename=JOBS_TABLE, tableschema=jobs.schema,
                                   engine_options={"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}})
    data_dir.mkdir(parents=True, exist_ok=True)  # a local file: no outage to ride out
    return SQLAlchemyJobStore(url=jobs.url, tablename=JOBS_TABLE)


def store_key(store: EventStore) -> str:
    """Which event store a job is about: the same text in every process on that store."""
    return store.address


class AutomationScheduler:
    """One scheduler while this process leads; ``start``, ``next_due_in``, ``wake``, ``stop``."""

    def __init__(self, key: str, round_: Callable[[bool], Any], job_store: Callable[[], SQLAlchemyJobStore]) -> None:
        """``round_(woken)``: one round; ``woken`` when a save in this process asked for it
        (``wake``), not the poll or a due time (a round woken by a save that queued nothing
        may leave the outbox alone: policies/service.py)."""
        self.key, self.round, self.job_store = key, round_, job_store
        self._scheduler: BackgroundScheduler | None = None
        self._next_due: datetime | None = None  # as last written to the job store
        self._asked = threading.Event()  # a round was asked for (wake) and has not started yet
        self._one_round = threading.Lock()  # the woken rounds' thread and APScheduler's worker take turns
        self._woken: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self, poll_seconds: float) -> None:
        # One worker: rounds never overlap. A round asked for while one runs waits its turn.
        scheduler = BackgroundScheduler(
            jobstores={"default": self.job_store(), "memory": MemoryJobStore()},
            executors={"default": RoundsExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 2},
            timezone=timezone.utc)
        _ROUNDS[self.key] = self._round
        scheduler.start()
        self._scheduler = scheduler
        self._stopping.clear()
        self._woken = threading.Thread(target=self._woken_rounds, name="automations-woken", daemon=True)
        self._woken.start()
        # The first round now; then every poll_seconds. The next-due job is kept as it was.
        scheduler.add_job(run_round, IntervalTrigger(seconds=poll_seconds, timezone=timezone.utc), args=[self.key],
                          id=ROUND, jobstore="memory", next_run_time=datetime.now(timezone.utc))
        job = scheduler.get_job(NEXT_DUE)
        self._next_due = None if job is None else job.next_run_time

    def next_due_in(self, seconds: float | None) -> None:
        """Look again when the next message or timer is due (None: nothing waits)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        if seconds is None:
            return  # a job left for a time now empty finds nothing due: cheaper than a write
        at = datetime.now(timezone.utc) + timedelta(seconds=max(seconds, 0.0))
        if self._next_due is not None and abs((at - self._next_due).total_seconds()) < 1.0 and \
                scheduler.get_job(NEXT_DUE) is not None:
            return  # the same time (a second is the wall clock's drift between rounds)
        scheduler.add_job(run_round, "date", run_date=at, args=[self.key], id=NEXT_DUE, replace_existing=True)
        self._next_due = at

    def _round(self, woken: bool = False) -> None:
        """One round (APScheduler's jobs: the poll, a due time; or ``woken`` by a save)."""
        with self._one_round:
            if woken and not self._asked.is_set():
                return  # a round that started since the save has read it
            self._asked.clear()  # before the round reads the log: a save from now on asks for another
            self.round(woken)

    def _woken_rounds(self) -> None:
        while True:
            self._asked.wait()
            if self._stopping.is_set():
                return
            try:
                self._round(woken=True)
            except Exception:  # the round logs its own failures; this thread must outlive any
                log.exception("scheduler: a woken round failed")

    def wake(self) -> None:
        if self._scheduler is None or self._asked.is_set():  # a round asked for will read this save too
            return
        self._asked.set()

    def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        woken, self._woken = self._woken, None
        if woken is not None:
            self._stopping.set()
            self._asked.set()  # the thread wakes, sees it must stop
            woken.join()
        self._asked.clear()
        if _ROUNDS.get(self.key) == self._round:
            del _ROUNDS[self.key]
        if scheduler is not None:
            scheduler.pause()  # no new submissions while the executor shuts down
            scheduler.shutdown(wait=True)
