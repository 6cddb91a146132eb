"""The read side survives a projector killed at any moment (DESIGN property 4).

A store is filled with tens of thousands of events; `crm-es project` is started as a
real process and SIGKILLed during its catch-up, again and again; finally it runs to
the end. After every kill the DuckDB file must hold exactly the rows of the events up
to its recorded position (rows and position commit together); at the end it must
equal a rebuild from the same store into a fresh file.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import uuid4


from crm_es.aggregates import Deal, Pipeline
from crm_es.aggregates import contact as contacts
from crm_es.aggregates import deal as deals
from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.pipeline import StageSpec
from crm_es.projections.read_side import READ_SIDE, ReadSide
from crm_es.projections.runner import Projector
from crm_es.settings import Settings
from tests.integration.processes import child_env
from crm_es.store import EventStore

EVENTS = 40_000
BATCH = 150  # the killed projector's batch size: many commits, so kills land between and inside them
KILLS = 6
CRM_ES = Path(sys.executable).parent / "crm-es"


def _history(rnd: random.Random, n_events: int, chunk: int = 2_000) -> Iterator[list[Event]]:
    """Chunks of a plausible history, decided by the pure deciders (fast: no store reads).
    Deals open, move, win, lose, reopen and change amount; contacts register; stages
    are renamed now and then (a set-based update on the read side)."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    tick = 0

    def meta(not_before: datetime | None = None) -> Meta:
        """Recorded up to 3 days late; a deal's changes never dated before its last one."""
        nonlocal tick
        tick += 1
        recorded = start + timedelta(minutes=tick)
        occurred = recorded - timedelta(hours=rnd.randint(0, 72))
        return Meta(max(occurred, not_before or occurred), recorded, "bulk-loader", f"load-{tick}")

    specs = [StageSpec(name, Decimal(p)) for name, p in [("Lead", "0.1"), ("Qualified", "0.3"), ("Proposal", "0.6"), ("Negotiation", "0.8")]]
    pending: list[Event] = []
    pipes: list[Pipeline] = []
    for k in range(3):
        events = pipelines.create(uuid4(), f"Pipeline {k}", specs, uuid4, meta()._replace(occurred_at=start - timedelta(days=7)))
        pending += events
        pipe = Pipeline.fold(events)
        assert pipe is not None
        pipes.append(pipe)
    written = 0
    while written + len(pending) < n_events:
        if rnd.random() < 0.1:
            contact_id = uuid4()
            details = ContactDetails("Ada", "Lovelace", f"{contact_id.hex}@example.com", city=rnd.choice(["Oslo", None]))
            pending += contacts.register(contact_id, details, "prospect", None, meta())
            continue
        k = rnd.randrange(len(pipes))
        pipe = pipes[k]
        amount = Decimal(rnd.randint(1, 10**7)) / 100
        events = deals.open_deal(uuid4(), DealDetails(f"deal {tick}"), pipe, rnd.choice(pipe.stages).name, amount, "EUR", None, meta())
        deal = Deal.fold(events)
        assert deal is not None
        for _ in range(rnd.randint(0, 8)):
            x = rnd.random()
            if deal.status == "open":
                if x < 0.5:
                    new = deals.move(deal, pipe, rnd.choice(pipe.stages).name, meta(deal.changed_at))
                elif x < 0.6:
                    new = deals.win(deal, meta(deal.changed_at))
                elif x < 0.7:
                    new = deals.lose(deal, rnd.choice(["price", "timing"]), meta(deal.changed_at))
                else:
                    new = deals.change(deal, {}, Decimal(rnd.randint(1, 10**7)) / 100, None, None, False, meta(deal.changed_at))
            elif x < 0.5:
                new = deals.reopen(deal, pipe, None, meta(deal.changed_at))
            else:
                new = deals.change(deal, {"title": f"deal {tick} (fixed)"}, None, None, None, False, meta(deal.changed_at))
            for event in new:
                deal = Deal.evolve(deal, event)
            events += new
        pending += events
        if len(pending) >= chunk:
            wanted = [StageSpec(s.name + "*" if rnd.random() < 0.3 else s.name, s.probability, s.id) for s in pipe.stages]
            renames = pipelines.revise(pipe, None, wanted, lambda _stage: 0, uuid4, meta())
            for event in renames:
                pipe = Pipeline.evolve(pipe, event)
            pipes[k] = pipe
            pending += renames
            yield pending
            written += len(pending)
            pending = []
    if pending:
        yield pending


def _snapshot(path: Path, into: Path) -> ReadSide:
    """A copy of the killed projector's file (and its WAL), opened as DuckDB recovers it,
    leaving the original untouched for the next run to recover by itself."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir()
    for suffix in ("", ".wal"):
        source = Path(str(path) + suffix)
        if source.exists():
            shutil.copy(source, into / (path.name + suffix))
    return ReadSide(into / path.name)


def _advance(projector: Projector, store: EventStore, position: int) -> None:
    """Project exactly the events up to ``position`` (the reference for a killed file)."""
    while projector.position < position:
        events = [e for e in store.read(projector.position, 5_000) if e.position <= position]
        assert events, f"the store has no events between {projector.position} and {position}"
        projector.process(events)


def _position(read_side: ReadSide) -> int:
    with read_side.cursor() as c:
        rows = c.execute("SELECT name, position FROM projection_positions").fetchall()
    assert [name for name, _ in rows] == [READ_SIDE]
    return rows[0][1]


def test_projector_killed_during_catch_up_recovers_to_the_rebuild(settings: Settings, tmp_path: Path) -> None:
    rnd = random.Random(20260301)
    store = EventStore(settings.store_env())
    reference = ReadSide(tmp_path / "reference" / "read.duckdb")
    try:
        for chunk in _history(rnd, EVENTS):
            store.save(chunk)
        top = store.max_position()
        assert top >= EVENTS

        env = child_env(settings, CRM_ES_PROJECTOR_BATCH=str(BATCH))
        ref_projector = Projector(store, reference, batch_size=5_000)
        positions = [0]
        mid_catch_up = 0
        wait = 0.5  # seconds before the kill, at least: the process needs ~0.5 s to start
        for round_ in range(KILLS):
            proc = subprocess.Popen([str(CRM_ES), "project", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(rnd.uniform(wait, wait + 0.8))
            killed = proc.poll() is None
            if killed:
                proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=60)
            if killed:
                assert proc.returncode == -signal.SIGKILL
            else:
                assert proc.returncode == 0, err.decode()

            # What the kill left: rows and position of whole batches, nothing more, nothing less.
            snapshot = _snapshot(settings.read_side_path, tmp_path / f"after-kill-{round_}")
            try:
                position = _position(snapshot)
                assert positions[-1] <= position <= top, f"round {round_}: position went from {positions[-1]} to {position}"
                assert position == top or position % BATCH == 0  # whole batches of CRM_ES_PROJECTOR_BATCH events
                _advance(ref_projector, store, position)
                assert snapshot.dump() == reference.dump(), f"round {round_}: tables at position {position} differ from the events up to it"
            finally:
                snapshot.close()
            if killed and position == positions[-1]:
                wait *= 2  # killed before its first commit: a slow start (a busy machine); wait longer
            positions.append(position)
            if killed and 0 < position < top:
                mid_catch_up += 1
        assert mid_catch_up >= 1, f"no kill landed during the catch-up (positions after each round: {positions[1:]}, of {top})"

        # Now let it finish, then compare with a rebuild from scratch in a fresh file.
        done = subprocess.run([str(CRM_ES), "project", "--json"], env=env, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()
        answer = json.loads(done.stdout)
        assert answer["position"] == top
        assert (answer["events"] > 0) == (positions[-1] < top)

        _advance(ref_projector, store, top)
        fresh = ReadSide(tmp_path / "fresh" / "read.duckdb")
        try:
            assert Projector(store, fresh).catch_up() == top  # a fresh store's log has no gaps
            recovered = ReadSide(settings.read_side_path)
            try:
                assert _position(recovered) == top == fresh.position()
                expected = fresh.dump()
                assert recovered.dump() == expected
                assert reference.dump() == expected  # batch boundaries change nothing either
                assert sum(len(rows) for rows in expected.values()) > EVENTS / 2  # a real read side, not empty tables
            finally:
                recovered.close()
        finally:
            fresh.close()
    finally:
        reference.close()
        store.close()
