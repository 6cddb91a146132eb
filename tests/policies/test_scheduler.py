"""APScheduler runs the automations' rounds (policies/scheduler.py): a timer fires at its
due time though the poll is an hour away, the next due time is kept in the persistent
job store across a restart, and only the active runner schedules anything.

These tests wait on the wall clock (a few seconds): APScheduler's own clock is the
wall's. What is due is still decided by the service's clock, here the system's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import inspect, text

from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Meta
from crm_es.aggregates.message import PENDING
from crm_es.aggregates.timer import FIRED, Timer
from crm_es.bootstrap import Services, service
from crm_es.clock import SystemClock
from crm_es.policies.leader import Leadership
from crm_es.policies.scheduler import JOBS_TABLE, NEXT_DUE, job_store_for
from crm_es.settings import Settings

HOUR = 3600.0  # the poll: far beyond any wait here, so only the next-due job can fire a timer in time
LEAD = 4.0  # seconds from now to the timer's due time: more than a scheduler takes to start


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


def wait_until(condition: Callable[[], object], seconds: float = 30.0) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def set_timer(services: Services, in_seconds: float) -> tuple[object, datetime]:
    now = services.clock.now()
    due = now + timedelta(seconds=in_seconds)
    events, rows = timers.schedule(uuid4(), "scheduler-test", "a test", due, None, {}, Meta(now, now, "test", "c"))
    services.store.save(events, outbox=rows)
    return events[0].originator_id, due


@contextmanager
def running(services: Services) -> Iterator[threading.Event]:
    """The automations' worker as `crm-es serve` runs it, with its lock."""
    automations = services.automations
    automations.leadership = Leadership(services.store, services.settings.data_dir / "policies.lock")
    stop = threading.Event()
    worker = threading.Thread(target=automations.run, args=(stop, HOUR), daemon=True)
    worker.start()
    try:
        yield stop
    finally:
        stop.set()
        worker.join(timeout=30)
        assert not worker.is_alive()


def stored_jobs(services: Services) -> dict[str, datetime]:
    """The persistent job store's rows, read as SQL: job id → next run time."""
    store = job_store_for(services.store, services.settings.data_dir)
    table = f"{store.jobs_t.schema}.{JOBS_TABLE}" if store.jobs_t.schema else JOBS_TABLE
    try:
        with store.engine.connect() as conn:
            if not inspect(conn).has_table(JOBS_TABLE, schema=store.jobs_t.schema):
                return {}  # the scheduler has not started yet
            rows = conn.execute(text(f"SELECT id, next_run_time FROM {table}")).all()
    finally:
        store.engine.dispose()
    return {job_id: datetime.fromtimestamp(at, timezone.utc) for job_id, at in rows}


def fired(services: Services, timer_id: object) -> Timer | None:
    timer = services.store.load(Timer, timer_id)
    return timer if timer.status == FIRED else None


def test_a_timer_fires_at_its_due_time_though_the_poll_is_an_hour_away(services: Services) -> None:
    timer_id, due = set_timer(services, LEAD)
    with running(services):
        jobs = wait_until(lambda: (j := stored_jobs(services)).get(NEXT_DUE) and j)
        assert set(jobs) == {NEXT_DUE}  # the poll is kept in memory
        assert abs((jobs[NEXT_DUE] - due).total_seconds()) < 2.0  # looks again when the timer is due
        timer = wait_until(lambda: fired(services, timer_id), seconds=LEAD + 30)
    assert timer.done_at >= due  # not before its time
    assert services.store.load(Timer, timer_id).status == FIRED


def test_the_next_due_time_outlives_a_restart(services: Services, settings: Settings, clock: SystemClock) -> None:
    timer_id, due = set_timer(services, LEAD + 2)
    with running(services):
        wait_until(lambda: stored_jobs(services).get(NEXT_DUE))
    services.close()  # the process stops before the timer is due
    assert NEXT_DUE in stored_jobs(services)  # kept in the job store
    assert datetime.now(timezone.utc) < due

    restarted = service(settings, clock=clock)
    try:
        assert restarted.store.load(Timer, timer_id).status == PENDING
        with running(restarted):
            timer = wait_until(lambda: fired(restarted, timer_id), seconds=LEAD + 30)
        assert timer.done_at >= due
    finally:
        restarted.close()


def test_only_the_active_runner_schedules(services: Services, settings: Settings, clock: SystemClock) -> None:
    other = service(settings, clock=clock)
    try:
        with running(services):
            wait_until(lambda: services.automations.scheduler.running)
            with running(other):
                time.sleep(1.0)  # the standby looks for the lead at start, and finds it taken
                assert not other.automations.scheduler.running
            assert services.automations.scheduler.running
    finally:
        other.close()
