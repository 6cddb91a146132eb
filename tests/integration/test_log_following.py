"""The projector inside the service follows writes made by OTHER processes: woken by
PostgreSQL's NOTIFY, and by polling on SQLite (which has no subscriptions)."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from uuid import uuid4

from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates.base import Meta
from crm_es.aggregates.pipeline import StageSpec
from crm_es.store import EventStore


def _write_from_elsewhere(services) -> int:
    """A second store object on the same database: its saves do not wake our projector in-process."""
    other = EventStore(services.settings.store_env())
    try:
        now = services.clock.now()
        events = pipelines.create(uuid4(), "Elsewhere", [StageSpec("Only", Decimal("0.5"))], uuid4, Meta(now, now, "other", "c"))
        return other.save(events)
    finally:
        other.close()


def test_writes_from_another_process_reach_the_read_side(services, backend):
    # On PostgreSQL polling is made too slow to matter: only NOTIFY can wake the projector in time.
    poll = 60.0 if backend == "postgres" else 0.05
    services.settings = replace(services.settings, poll_seconds=poll)
    services.start()
    time.sleep(0.5)  # the listener is connected
    position = _write_from_elsewhere(services)
    deadline = time.monotonic() + 5
    while services.projector.position < position and time.monotonic() < deadline:
        time.sleep(0.02)
    assert services.projector.position >= position
    with services.read_side.cursor() as c:
        assert c.execute("SELECT name FROM pipelines").fetchall() == [("Elsewhere",)]
