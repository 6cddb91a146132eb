"""Policies act exactly once, across SIGKILLs (DESIGN property 4, E7).

A store holds thousands of meetings held, with the task-after-meeting policy switched on
before them. `crm-es policies` runs as a real process and is SIGKILLed at random moments,
again and again (at least 20 times). After every kill, the tasks in the store are exactly
those of the meetings up to the policy's saved place: a task and the place that covers
its meeting commit together, or neither does. At the end every meeting has one task.

Two runners at once: one is active, the other stands by; killed, the active one's lock
goes with it and the other takes over and finishes the work (PostgreSQL: an advisory lock;
SQLite: a file lock).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from crm_es.aggregates import contact as contacts
from crm_es.aggregates import policy as policies
from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Event, Meta, new_event
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.interactions import MeetingHeld
from crm_es.aggregates.task import Task
from crm_es.policies.after_meeting import TaskAfterMeeting
from crm_es.settings import Settings
from tests.integration.processes import child_env
from tests.policies.conftest import smtp  # noqa: F401  (the SMTP server fixture)
from crm_es.store import EventStore

MEETINGS = 20_000  # reactions go in batches (issue 18): enough work for a kill to land mid-way
KILLS = 20
CRM_ES = Path(sys.executable).parent / "crm-es"
POLICY = TaskAfterMeeting.name
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _fill(store: EventStore, rnd: random.Random) -> list[int]:
    """A rep, 100 contacts of theirs, the policy switched on, then the meetings; returns the
    meetings' positions."""
    tick = iter(range(10**9))

    def meta() -> Meta:
        at = START + timedelta(minutes=next(tick))
        return Meta(at, at, "loader", "load")

    rep_id = uuid4()
    first: list[Event] = [*reps.add(rep_id, "Rita", "rita@example.com", None, meta())]
    people = []
    for _ in range(100):
        contact_id = uuid4()
        first += contacts.register(contact_id, ContactDetails("Ada", "Lovelace", f"{contact_id.hex}@example.com"),
                                   "customer", rep_id, meta())
        people.append([contact_id, 1])
    first += policies.configure(None, POLICY, True, TaskAfterMeeting.Settings().model_dump(mode="json"), meta())
    store.save(first)
    chunk: list[Event] = []
    for _ in range(MEETINGS):
        person = rnd.choice(people)
        person[1] += 1
        chunk.append(new_event(MeetingHeld, person[0], person[1], meta(), rep_id=rep_id, deal_id=None, mode="video",
                               duration_minutes=30, notes=None))
        if len(chunk) == 500:
            store.save(chunk)
            chunk = []
    store.save(chunk)
    topic = get_topic(MeetingHeld)
    meetings = [e.position for e in _all(store) if e.topic == topic]
    assert len(meetings) == MEETINGS
    return meetings


def _all(store: EventStore) -> list:
    rows, after = [], 0
    while page := store.read(after, 10_000):
        rows += page
        after = page[-1].position
    return rows


def _causes(store: EventStore) -> list[str]:
    """The meetings the tasks in the store were planned for (``causation_id``), one per task."""
    topic = get_topic(Task.Planned)
    planned = [r for r in _all(store) if r.topic == topic]
    return [json.loads(r.state)["causation_id"] for r in planned]


def _settled(store: EventStore) -> tuple[int, list[str]]:
    """The policy's place and the tasks, read when neither moves any more. On PostgreSQL a
    COMMIT the killed runner had sent may still land after its death (the server finishes
    it); reading the place and then the tasks across it would pair two different moments."""
    while True:
        position, tasks = store.tracked_position(POLICY), _causes(store)
        if store.tracked_position(POLICY) == position:
            return position, tasks


def _cause_of(store: EventStore, positions: list[int]) -> dict[int, str]:
    rows = {r.position: r for r in _all(store)}
    return {p: f"{UUID(rows[p].originator_id)}:{rows[p].version}" for p in positions}


def _wait_until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def _runner(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(CRM_ES), "policies", "--poll", "0.05", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_policy_killed_again_and_again_acts_once_per_event(settings: Settings) -> None:
    rnd = random.Random(20261123)
    store = EventStore(settings.store_env())
    try:
        store.tracked_position(POLICY)  # installed before the meetings: it reacts to them
        meetings = _fill(store, rnd)
        cause = _cause_of(store, meetings)
        env = child_env(settings)
        saved, mid_way, wait = [store.tracked_position(POLICY)], 0, 0.6
        for round_ in range(KILLS):
            proc = _runner(env)
            time.sleep(rnd.uniform(wait, wait + 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            position, tasks = _settled(store)
            # The tasks are exactly those of the meetings the saved place covers.
            expected = sorted(cause[p] for p in meetings if p <= position)
            assert sorted(tasks) == expected, f"round {round_}: tasks and place disagree at {position}"
            if position == saved[-1] and position < store.max_position():
                wait *= 1.5  # killed before its first reaction (a slow start): wait longer
            if saved[-1] < position < meetings[-1]:
                mid_way += 1
            saved.append(position)
        assert mid_way >= 1, f"no kill landed mid-way (places after each round: {saved[1:]})"

        done = subprocess.run([str(CRM_ES), "policies", "--once", "--json"], env=env, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()
        assert sorted(_causes(store)) == sorted(cause.values())  # one task per meeting: none lost, none twice
        assert store.tracked_position(POLICY) == store.max_position()
    finally:
        store.close()


def test_two_runners_one_active_the_other_takes_over_when_it_dies(settings: Settings) -> None:
    """PostgreSQL: an advisory lock; SQLite: a file lock (runners on one machine)."""
    rnd = random.Random(7)
    store = EventStore(settings.store_env())
    try:
        store.tracked_position(POLICY)
        meetings = _fill(store, rnd)
        env = child_env(settings)
        first = _runner(env)
        second = None
        try:
            _wait_until(lambda: store.tracked_position(POLICY) > meetings[0], 60)  # the first is active
            second = _runner(env)
            said: list[str] = []
            reader = threading.Thread(target=lambda: said.extend(line.decode() for line in second.stderr), daemon=True)
            reader.start()
            _wait_until(lambda: any("standing by" in line for line in said), 60)  # it found the lock held
            assert any("standing by" in line for line in said), said
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
            _wait_until(lambda: store.tracked_position(POLICY) == store.max_position(), 120)
            assert store.tracked_position(POLICY) == store.max_position(), "the standby did not take over"
        finally:
            if first.poll() is None:
                first.kill()
            if second is not None:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=30)
                reader.join(timeout=10)
        log = "".join(said)
        assert "active" in log.split("standing by", 1)[1], log  # it stood by, then took over
        assert len(_causes(store)) == MEETINGS == len(set(_causes(store)))
    finally:
        store.close()


def test_emails_queued_by_a_policy_killed_again_and_again_go_out_once_each(settings: Settings, smtp) -> None:  # noqa: F811
    """The missed-meeting policy queues an e-mail per missed meeting; the runner (policies
    and outbox) is SIGKILLed again and again. Every e-mail arrives, and none twice: a copy
    sent again after a kill between the send and its record carries the same delivery id,
    which the receiver drops."""
    from crm_es.aggregates.interactions import MeetingMissed
    from crm_es.aggregates.message import Message
    from crm_es.policies.missed_meeting import MissedMeetingFollowUp
    from crm_es.outbox.senders import DELIVERY_HEADER

    inbox, port = smtp
    rnd = random.Random(99)
    store = EventStore(settings.store_env())
    try:
        store.tracked_position(MissedMeetingFollowUp.name)
        tick = iter(range(10**9))

        def meta() -> Meta:
            at = START + timedelta(seconds=next(tick))
            return Meta(at, at, "loader", "load")

        rep_id = uuid4()
        events: list[Event] = [*reps.add(rep_id, "Rita", "rita@example.com", None, meta()),
                               *policies.configure(None, MissedMeetingFollowUp.name, True,
                                                   MissedMeetingFollowUp.Settings().model_dump(mode="json"), meta())]
        people = [uuid4() for _ in range(300)]
        for person in people:
            events += contacts.register(person, ContactDetails("Ada", "Lovelace", f"{person.hex}@example.com"),
                                        "prospect", rep_id, meta())
            events.append(new_event(MeetingMissed, person, 2, meta(), rep_id=rep_id, deal_id=None, mode="video", notes=None))
        store.save(events)
        env = child_env(settings, CRM_ES_SMTP_URL=f"smtp://127.0.0.1:{port}")
        wait = 0.8
        for _ in range(KILLS):
            proc = _runner(env)
            time.sleep(rnd.uniform(wait, wait + 0.8))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            if not inbox.mails:
                wait *= 1.3  # a slow start: let the next one get further
        done = subprocess.run([str(CRM_ES), "policies", "--once", "--json"], env=env, capture_output=True, timeout=600)
        assert done.returncode == 0, done.stderr.decode()

        queued = {str(r.originator_id) for r in _all(store) if r.topic == get_topic(Message.Queued)}
        delivered = [inbox.parsed(i)[DELIVERY_HEADER] for i in range(len(inbox.mails))]
        assert len(queued) == len(people)  # one e-mail per missed meeting, queued once
        assert set(delivered) == queued  # every one arrived …
        copies = len(delivered) - len(set(delivered))
        assert copies <= KILLS  # … and a copy, if any, only where a kill fell between a send and its record
        sent = [r for r in _all(store) if r.topic == get_topic(Message.Sent)]
        assert len({r.originator_id for r in sent}) == len(sent) == len(people)  # each recorded sent once
    finally:
        store.close()
