"""When the automations run: APScheduler, with a persistent job store.

The active runner (policies/leader.py) runs one APScheduler ``BackgroundScheduler`` with
two jobs, both running one round (policies/service.py: the policies read the log, then
the due messages and timers go out):

- ``automations-round``, every ``poll_seconds``: another process may have written;
- ``automations-next-due``, at the time the outbox says the next message or timer is due
  (a follow-up in 3 days, a report on Monday 08:00, a retry in 4 minutes), set again after
  each round;
- and ``automations-round`` brought forward to now when this process saved something (a
  policy may have something to react to).

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
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import URL

from crm_es.store import EventStore

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


def job_store_for(store: EventStore, data_dir: Path) -> SQLAlchemyJobStore:
    """The persistent job store beside the event store."""
    if store.is_postgres:
        env = store.env
        url = URL.create("postgresql+psycopg", username=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None,
                         host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), database=env["POSTGRES_DBNAME"])
        return SQLAlchemyJobStore(url=url, tablename=JOBS_TABLE, tableschema=env.get("POSTGRES_SCHEMA") or None,
                                  engine_options={"pool_pre_ping": True})
    data_dir.mkdir(parents=True, exist_ok=True)
    return SQLAlchemyJobStore(url=f"sqlite:///{data_dir / SQLITE_FILE}", tablename=JOBS_TABLE)


def store_key(store: EventStore) -> str:
    """Which event store a job is about: the same text in every process on that store."""
    env = store.env
    if store.is_postgres:
        return f"postgresql:{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}" \
               f"/{env.get('POSTGRES_SCHEMA') or 'public'}"
    return f"sqlite:{Path(env['SQLITE_DBNAME']).resolve()}"


class AutomationScheduler:
    """One scheduler while this process leads; ``start``, ``next_due_in``, ``wake``, ``stop``."""

    def __init__(self, key: str, round_: Callable[[], Any], job_store: Callable[[], SQLAlchemyJobStore]) -> None:
        self.key, self.round, self.job_store = key, round_, job_store
        self._scheduler: BackgroundScheduler | None = None
        self._next_due: datetime | None = None  # as last written to the job store

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def start(self, poll_seconds: float) -> None:
        # One worker: rounds never overlap. A round asked for while one runs waits its turn.
        scheduler = BackgroundScheduler(
            jobstores={"default": self.job_store(), "memory": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 2},
            timezone=timezone.utc)
        _ROUNDS[self.key] = self.round
        scheduler.start()
        self._scheduler = scheduler
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

    def wake(self) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        try:  # the poll, brought forward: a job that stays (a one-off would be removed after its run,
            # which APScheduler cannot do once shutting down)
            scheduler.modify_job(ROUND, jobstore="memory", next_run_time=datetime.now(timezone.utc))
        except Exception:  # shutting down meanwhile: the next start runs a round anyway
            log.debug("scheduler: wake-up not scheduled", exc_info=True)

    def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if _ROUNDS.get(self.key) is self.round:
            del _ROUNDS[self.key]
        if scheduler is not None:
            scheduler.pause()  # no new submissions while the executor shuts down
            scheduler.shutdown(wait=True)
