#!/usr/bin/env python
"""The automations (issue 7): the policy runtime and the outbox, each figure beside a baseline of the same run.

1. Reactions: ``PolicyRunner.run_once()`` with ``lead-scoring`` and ``task-after-meeting``
   switched on, catching up a log of interactions (page visits, e-mail opens, meetings
   held) over a few thousand contacts with owners: the log read once for both, each policy
   saving its reactions in batches, each batch one transaction with its new place.
   Baseline: the same log read with ``store.read`` and the rows each policy reacts to
   decoded, once per policy — what any follower pays before it does anything. Target
   (issue 18): within 3x of it.
2. Outbox: ``Dispatcher.run_once()`` delivering queued e-mails to a real SMTP server in this
   process (aiosmtpd). Baseline: the same e-mails sent straight with ``smtplib`` to the same
   server, one connection per message (as ``SmtpSender`` does); ours and the baseline take turns.
3. End to end: the whole service in this process (its projector and automations running in
   their threads, as in ``crm-es serve``) with lead scoring on; 10,000 tracked page visits
   posted to ``POST /interactions:batch`` (in process), then timed until they are accepted,
   projected, and scored by lead scoring. Target (issue 18): under 3 s.
4. The cost of the automations to a command: commands one at a time through HTTP (in
   process, a call logged: nothing for lead scoring) with the automations running — each
   save wakes a round — beside the same with ``CRM_ES_POLICIES=off``; and one round woken
   when nothing concerns any policy.

Examples::

    .venv/bin/python bench/bench_policies.py                       # both backends, 50,000 interactions, 2,000 e-mails
    .venv/bin/python bench/bench_policies.py --backend sqlite --interactions 10000 --messages 500
    .venv/bin/python bench/bench_policies.py --parts 3,4                # the service end to end
    .venv/bin/python bench/bench_policies.py --write               # rewrite BENCHMARKS.md's section
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import gc
import itertools
import pstats
import random
import shutil
import smtplib
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from aiosmtpd.controller import Controller
from bench_core import (
    ROOT,
    Backend,
    PostgresBackend,
    Results,
    Row,
    SQLiteBackend,
    finish,
    log,
    machine,
    pct,
    rate,
    run_options,
    timed,
)
from eventsourcing.utils import get_topic

from crm_es.aggregates import contact as contacts
from crm_es.aggregates import message as messages
from crm_es.aggregates import policy as policy_settings
from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.contact import Contact, ContactDetails
from crm_es.aggregates.interactions import DEFAULT_SESSION_GAP, InteractionSpec, PageVisited
from crm_es.bootstrap import service
from crm_es.clock import FrozenClock
from crm_es.commands import execute
from crm_es.commands.people import AddRep, add_rep
from crm_es.commands.records import RegisterContact, register_contact
from crm_es.policies.after_meeting import TaskAfterMeeting
from crm_es.policies.base import Policy
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.lead_scoring import LeadScoring
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.policies.places import live_places, status
from crm_es.policies.runtime import PolicyRunner
from crm_es.outbox.senders import DELIVERY_HEADER, SmtpSender
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from crm_es.store import EventStore

TARGET_RATIO = 3.0  # reactions within 3x of their read + decode floor (issue 18)
TARGET_END_TO_END = 3.0  # seconds for 10,000 visits accepted, projected and scored (issue 18)
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone.utc)
SAVE_BATCH = 5_000  # events per EventStore.save() while making the log (not timed)
ROUNDS = 4  # part 2 alternates the dispatcher and the plain sends in this many rounds
FROM = "crm@example.com"
MAIL_POLICY = "bench-mail"

# What lead scoring counts here: pages, behaviours, and a threshold the busiest contacts cross.
LEAD_SCORING = {
    "pages": [{"pattern": "*/pricing*", "points": 10}, {"pattern": "*/demo*", "points": 10},
              {"match": "regex", "pattern": r"/blog/[a-z-]+$", "points": 2}],
    "behaviours": {"email_opened": 1, "email_clicked": 5, "quote_opened": 15, "return_visit": 3},
    "threshold": 60,
}
PAGES = ["/", "/pricing", "/features", "/blog/event-sourcing", "/demo", "/customers", "/docs/api", "/careers"]
PAGE_WEIGHTS = [30, 15, 15, 15, 5, 10, 5, 5]


def meta_at(at: dt.datetime, actor: str = "bench") -> Meta:
    return Meta(at, at, actor, f"bench-{uuid4().hex[:12]}")


def name_of(topic: str) -> str:
    return topic.rsplit(":", 1)[-1]


# --- the people: reps, and contacts each owned by one ----------------------------------------


def register_people(store: EventStore, n_reps: int, n_contacts: int) -> dict[UUID, Contact]:
    """Reps and contacts with owners, made by the deciders and saved in batches."""
    meta = meta_at(T0 - timedelta(days=30))
    rep_ids = [uuid4() for _ in range(n_reps)]
    events: list[Event] = [e for i, rep_id in enumerate(rep_ids)
                           for e in reps.add(rep_id, f"Rep {i}", f"rep{i}@crm.example", None, meta)]
    people: dict[UUID, Contact] = {}
    for i in range(n_contacts):
        contact_id = uuid4()
        details = ContactDetails("Visitor", f"N{i}", f"visitor{i}@example.com", job_title="Buyer", city="Lyon")
        registered = contacts.register(contact_id, details, "lead", rep_ids[i % n_reps], meta)
        people[contact_id] = contacts.fold_onto(None, registered)
        events += registered
    for start in range(0, len(events), SAVE_BATCH):
        store.save(events[start:start + SAVE_BATCH])
    return people


# --- part 1: the policies catching up a log of interactions ---------------------------------


class Activity:
    """What the contacts do, in time order (seeded): of the interactions, about 70 % page
    visits (sessions of 1 to 5 pages), 20 % e-mails opened, 10 % meetings held. A few
    contacts are far busier than most, so some cross the lead-scoring threshold and most
    do not."""

    def __init__(self, people: dict[UUID, Contact], seed: int = 7) -> None:
        self.people, self.rng, self.at = people, random.Random(seed), T0
        self.ids = list(people)
        self.weights = list(itertools.accumulate(1 / (1 + i / 100) for i in range(len(self.ids))))
        self.kinds: Counter[str] = Counter()

    def _record(self, contact_id: UUID, spec: InteractionSpec) -> list[Event]:
        contact = self.people[contact_id]
        events = contacts.record_interaction(contact, spec, meta_at(self.at), DEFAULT_SESSION_GAP)
        self.people[contact_id] = contacts.fold_onto(contact, events)
        self.kinds[spec.kind] += 1
        return events

    def episode(self) -> Iterator[Event]:
        rng = self.rng
        [contact_id] = rng.choices(self.ids, cum_weights=self.weights)
        self.at += timedelta(seconds=rng.randint(30, 600))
        roll = rng.random()
        if roll < 0.44:
            for _ in range(rng.randint(1, 5)):
                page = rng.choices(PAGES, PAGE_WEIGHTS)[0]
                fields = {"url": f"https://example.com{page}", "title": None, "seconds_on_page": rng.randint(5, 300),
                          "referrer": None, "visitor_id": f"v-{contact_id.hex[:8]}", "session_id": None}
                yield from self._record(contact_id, InteractionSpec("page_visited", fields))
                self.at += timedelta(seconds=rng.randint(20, 120))
        elif roll < 0.81:
            yield from self._record(contact_id, InteractionSpec("email_opened", {"message_id": None}))
        else:
            owner = self.people[contact_id].owner_id
            spec = InteractionSpec("meeting_held", {"mode": "video", "duration_minutes": 30, "notes": None},
                                   rep_id=owner if rng.random() < 0.7 else None)  # else the owner, by the policy
            yield from self._record(contact_id, spec)

    def events(self, total: int) -> Iterator[Event]:
        return itertools.islice(itertools.chain.from_iterable(iter(self.episode, None)), total)


class TimedRunner(PolicyRunner):
    """The runtime as it is, with each policy's share of a round measured: seconds, events
    reacted to, events read. The log is read once for all the policies (``store.read``
    pages): each policy's share is its own work on the pages (``_follow_page``: decoding
    what it wants, reacting, saving) plus an equal part of the reading."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.work: dict[str, tuple[float, int, int]] = {}
        self.reading = 0.0

    def _follow(self, followers: list[Any]) -> int:
        t0 = time.perf_counter()
        reacted = super()._follow(followers)
        self.reading += time.perf_counter() - t0 - sum(s for s, _, _ in self.work.values())
        return reacted

    def _follow_page(self, follower: Any, rows: Any, decoded: Any) -> tuple[int, bool]:
        start, t0 = follower.position, time.perf_counter()
        reacted, goes_on = super()._follow_page(follower, rows, decoded)
        seconds, count, read = self.work.get(follower.policy.name, (0.0, 0, 0))
        self.work[follower.policy.name] = (seconds + time.perf_counter() - t0, count + reacted,
                                           read + follower.position - start)
        return reacted, goes_on

    @property
    def shares(self) -> dict[str, tuple[float, int, int]]:
        return {name: (seconds + self.reading / len(self.work), count, read)
                for name, (seconds, count, read) in self.work.items()}


def held_to(row: Row, ratio: float) -> Row:
    """The row with its target: within ``ratio`` times its baseline."""
    return dataclasses.replace(row, target=f"within {ratio:g}x of the baseline",
                               ok=row.ratio is not None and row.ratio <= ratio)


def topics_of(policy: Policy) -> frozenset[str]:
    return frozenset(get_topic(cls) for cls in policy.reacts_to)


def read_floor(store: EventStore, start: int, end: int, topics: frozenset[str] | None, page: int) -> float:
    """Seconds to read the log from ``start`` to ``end`` in pages and decode the rows of
    these topics (None: read only) — what any follower of the log pays."""
    t0, position = time.perf_counter(), start
    while position < end and (rows := store.read(position, min(page, end - position))):
        if topics is not None:
            store.decode([r for r in rows if r.topic in topics])
        position = rows[-1].position
    return time.perf_counter() - t0


def configure(store: EventStore, policy: Policy, settings: dict[str, Any], at: dt.datetime) -> None:
    """Switch a policy on as PUT /policies/{name} does: its settings checked by its model and
    against the records, then ``PolicySettings.Configured`` saved."""
    checked = policy.Settings.model_validate(settings)
    policy.check(checked, store.load)
    store.save(policy_settings.configure(None, policy.name, True, checked.model_dump(mode="json"), meta_at(at)))


def part_reactions(backend: Backend, tmp: Path, n_reps: int, n_contacts: int, n_interactions: int,
                   results: Results, profile: bool) -> None:
    env = backend.store_env("policies")
    maker = EventStore(env)
    try:
        # Installed first (each starts at the log's end when first met), then switched on:
        # the policies follow everything written after, as a live service would have.
        start = maker.max_position()
        on: list[Policy] = [LeadScoring(), TaskAfterMeeting()]
        PolicyRunner(maker, FrozenClock(T0), POLICIES)  # the whole catalogue, for the note on the others
        log(f"{backend.name}: part 1, {n_reps} reps and {n_contacts:,} contacts, "
            f"then {n_interactions:,} interactions …")
        people = register_people(maker, n_reps, n_contacts)
        configure(maker, on[0], LEAD_SCORING, T0)
        configure(maker, on[1], {}, T0)
        activity = Activity(people)
        t0 = time.perf_counter()
        it = activity.events(n_interactions)
        while batch := list(itertools.islice(it, SAVE_BATCH)):
            maker.save(batch)
        made = time.perf_counter() - t0
        end = maker.max_position()
        log(f"{backend.name}: log made, {end - start:,} events in {made:.1f} s")
    finally:
        maker.close()

    # A runner starting cold, as after a restart: a store of its own (nothing remembered),
    # the read side it queries (return visits) caught up first, as the projector keeps it.
    store = EventStore(env)
    read_side = ReadSide(tmp / f"read-{backend.name}.duckdb")
    try:
        projector = Projector(store, read_side)
        p0 = time.perf_counter()
        projector.catch_up()
        projected = time.perf_counter() - p0
        clock = FrozenClock(activity.at + timedelta(days=1))
        runner = TimedRunner(store, clock, on, projector=projector)
        floors_before = {p.name: read_floor(store, start, end, topics_of(p), runner.page) for p in on}

        log(f"{backend.name}: run_once() over {end - start:,} events …")
        gc.collect()
        profiler = cProfile.Profile() if profile else None
        reacted, elapsed = timed(runner.run_once, profiler)
        after = store.max_position()

        floors_after = {p.name: read_floor(store, start, end, topics_of(p), runner.page) for p in on}
        floors = {name: min(floors_before[name], floors_after[name]) for name in floors_before}
        problems = [(s["name"], s["last_error"]) for s in status(store, on) if s["last_error"]]
        assert not problems, problems
        kinds = activity.kinds
        expected = {"lead-scoring": kinds["page_visited"] + kinds["email_opened"],
                    "task-after-meeting": kinds["meeting_held"]}  # every one of their events, none failed
        assert {n: s[1] for n, s in runner.shares.items()} == expected, (runner.shares, expected)
        written = Counter(name_of(r.topic) for r in read_all(store, end))

        log_n = end - start
        read_total = sum(s[2] for s in runner.shares.values())
        results.add(held_to(Row(
            "1", backend.name,
            f"run_once(): lead-scoring + task-after-meeting catching up a {log_n:,}-event log "
            f"({n_interactions:,} interactions, {n_contacts:,} contacts)",
            rate(read_total, elapsed), "events/s read", "the same log read (store.read pages) and the rows each "
            "policy reacts to decoded, once per policy", rate(log_n * len(on), sum(floors.values())),
            note=f"{rate(reacted, elapsed):,.0f} reactions/s, {rate(after - end, elapsed):,.0f} events written/s",
        ), TARGET_RATIO))
        for part, policy in (("1a", on[0]), ("1b", on[1])):
            seconds, count, read_n = runner.shares[policy.name]
            results.add(held_to(Row(part, backend.name, f"… {policy.name}'s share of that round ({count:,} events reacted to)",
                            rate(read_n, seconds), "events/s read", "its own read + decode floor",
                            rate(log_n, floors[policy.name]),
                            note=f"{rate(count, seconds):,.0f} reactions/s, "
                                 f"{seconds * 1000 / max(count, 1):.2f} ms a reaction"), TARGET_RATIO))
        results.note(
            f"{backend.name}: the log: {log_n:,} events ({', '.join(f'{k} {v:,}' for k, v in kinds.most_common())}, "
            f"plus {n_contacts:,} contacts and {n_reps} reps registered before the switches), made in {made:.1f} s; "
            f"the read side caught up on it in {projected:.1f} s before the round (not timed)")
        results.note(
            f"{backend.name}: the round took {elapsed:.1f} s: {reacted:,} reactions (in batches of up to "
            f"{runner.batch}, each one transaction with the policy's place), {runner.reading:.2f} s of it reading the log "
            f"once for both, "
            f"{after - end:,} events written: " + ", ".join(f"{k} {v:,}" for k, v in written.most_common()))

        # The service's runner holds the whole catalogue: the others, switched off, pass
        # over the same log (now with the reactions) from where they were installed.
        others = [p for p in POLICIES if p.name not in {q.name for q in on}]
        everyone = PolicyRunner(store, clock, POLICIES, projector=projector)
        gc.collect()
        t0 = time.perf_counter()
        assert everyone.run_once() == 0
        off_elapsed = time.perf_counter() - t0
        off_read = sum(read_floor(store, start, after, None, runner.page) for _ in others)
        off_decode = sum(read_floor(store, start, after, topics_of(p), runner.page) for p in others)
        results.note(
            f"{backend.name}: the {len(others)} other policies of the catalogue, switched off, passing over the same "
            f"{after - start:,} events (the log read once for all of them, nothing decoded but their switches): "
            f"{off_elapsed:.2f} s; store.read once {off_read / len(others):.2f} s, read + decoding the kinds they "
            f"would react to, once per policy, {off_decode:.2f} s")
        if profiler:
            save_profile(profiler, f"policies-{backend.name}")
    finally:
        store.close()
        read_side.close()


def read_all(store: EventStore, after: int) -> Iterator[Any]:
    while rows := store.read(after, 10_000):
        yield from rows
        after = rows[-1].position


def save_profile(profiler: cProfile.Profile, name: str) -> None:
    out = ROOT / "bench" / "out" / f"{name}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(out)
    log(f"profile saved in {out}")
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


# --- part 2: the outbox delivering e-mails over SMTP --------------------------------------


class Inbox:
    """An aiosmtpd handler that counts what it accepts (a receiver we do not own)."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()  # delivery id -> copies

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's name for it
        for line in envelope.content.splitlines():
            if line.startswith(DELIVERY_HEADER.encode() + b":"):
                self.accepted[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 Message accepted for delivery"


class TimedDispatcher(Dispatcher):
    """The dispatcher as it is, with each message's delivery timed (load, send, record)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latencies: list[float] = []

    def _deliver(self, *args: Any, **kwargs: Any) -> int:
        t0 = time.perf_counter()
        try:
            return super()._deliver(*args, **kwargs)
        finally:
            self.latencies.append(time.perf_counter() - t0)


Mail = tuple[str, str, str, str]  # delivery id, to, subject, body


def queue_mails(store: EventStore, people: Sequence[tuple[UUID, Contact]], at: dt.datetime) -> list[Mail]:
    """One e-mail to each of these contacts, queued as a policy queues it; returns
    (delivery id, to, subject, body) of each, for the plain sends."""
    events: list[Event] = []
    rows, mails = [], []
    for contact_id, contact in people:
        message_id, to = uuid4(), contact.details.email
        subject = f"Welcome, {contact.details.first_name}"
        body = (f"Hello {contact.details.first_name},\n\nThank you for your visit. Your rep will call you this week "
                "to talk about what you need.\n\nBest regards,\nThe team\n")
        queued, row = messages.queue(message_id, "email", to, body, MAIL_POLICY, meta_at(at, f"policy:{MAIL_POLICY}"),
                                     contact_id=contact_id, subject=subject)
        events += queued
        rows.append(row)
        mails.append((str(message_id), to, subject, body))
    for s in range(0, len(events), 500):
        store.save(events[s:s + 500], outbox=rows[s:s + 500])
    return mails


def plain_send(port: int, mail: Mail) -> float:
    """One e-mail as SmtpSender builds it, sent with smtplib over a connection of its own."""
    delivery_id, to, subject, body = mail
    t0 = time.perf_counter()
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = FROM, to, subject
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = f"<plain-{delivery_id}@crm-es>"
    email[DELIVERY_HEADER] = f"plain-{delivery_id}"
    email.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(email)
    return time.perf_counter() - t0


def part_outbox(backend: Backend, n_reps: int, n_messages: int, results: Results, profile: bool) -> None:
    store = EventStore(backend.store_env("outbox"))
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        log(f"{backend.name}: part 2, {n_messages:,} e-mails through the outbox, {ROUNDS} rounds …")
        people = list(register_people(store, n_reps, n_messages + 5).items())
        clock = FrozenClock(T0)
        dispatcher = TimedDispatcher(store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}", FROM)})
        for mail in queue_mails(store, people[:5], clock.now()):  # warm-up: connections, prepared statements
            plain_send(port, mail)
        assert dispatcher.run_once() == 5
        dispatcher.latencies.clear()
        ours, plain = 0.0, []
        profiler = cProfile.Profile() if profile else None
        done = 5
        for r in range(ROUNDS):
            upto = 5 + n_messages * (r + 1) // ROUNDS
            mails = queue_mails(store, people[done:upto], clock.now())
            done = upto
            gc.collect()
            sent, seconds = timed(dispatcher.run_once, profiler)
            ours += seconds
            assert sent == len(mails), (sent, len(mails))
            plain += [plain_send(port, mail) for mail in mails]
            clock.advance(minutes=1)
        n = done - 5
        assert sum(1 for k, v in inbox.accepted.items() if not k.startswith("plain-") and v == 1) == n + 5
        row = results.add(Row(
            "2", backend.name, f"Dispatcher.run_once() sending {n:,} queued e-mails to an SMTP server in process "
            f"({ROUNDS} rounds)", rate(n, ours), "messages/s",
            "the same e-mails sent with smtplib, one connection each, rounds in turn", rate(n, sum(plain)),
            note=f"p50 {pct(dispatcher.latencies, 0.5) * 1000:.2f} ms, "
                 f"p95 {pct(dispatcher.latencies, 0.95) * 1000:.2f} ms a message",
        ))
        assert len(dispatcher.latencies) == n
        results.note(f"{backend.name}: outbox, a message took p50 {pct(dispatcher.latencies, 0.5) * 1000:.2f} ms, "
                     f"p95 {pct(dispatcher.latencies, 0.95) * 1000:.2f} ms; a plain smtplib send p50 "
                     f"{pct(plain, 0.5) * 1000:.2f} ms, p95 {pct(plain, 0.95) * 1000:.2f} ms: the outbox adds "
                     f"≈ {(ours - sum(plain)) * 1000 / n:.2f} ms a message ({row.ratio:.2f}x)")
        if profiler:
            save_profile(profiler, f"outbox-{backend.name}")
    finally:
        controller.stop()
        store.close()


# --- part 3: tracked visits accepted, projected and scored, end to end ------------------------


def page_visits(contacts: Sequence[UUID], n: int, start: dt.datetime, seed: int = 11) -> list[dict[str, Any]]:
    """A tracking feed's items: page visits of known contacts, in time order, each with its id."""
    rng, at, items = random.Random(seed), start, []
    for i in range(n):
        at += timedelta(seconds=rng.randint(1, 120))
        contact_id = rng.choice(contacts)
        items.append({"type": "page_visited", "contact_id": str(contact_id), "occurred_at": at.isoformat(),
                      "event_id": f"feed-{i}", "url": f"https://example.com{rng.choices(PAGES, PAGE_WEIGHTS)[0]}",
                      "seconds_on_page": rng.randint(5, 300), "visitor_id": f"v-{contact_id.hex[:8]}"})
    return items


def people_by_commands(services: Any, n_reps: int, n_contacts: int) -> list[UUID]:
    """Reps, and contacts with no owner (a lead crossing the threshold goes round-robin)."""
    ctx = services.context()
    for i in range(n_reps):
        execute(add_rep, AddRep(f"Rep {i}", f"rep{i}@crm.example"), ctx)
    return [execute(register_contact, RegisterContact(ContactDetails("Visitor", f"N{i}", f"visitor{i}@example.com",
                                                                      job_title="Buyer")), ctx).id
            for i in range(n_contacts)]


def wait_for(condition: Any, seconds: float = 120.0) -> float:
    """perf_counter() when ``condition()`` first holds (polled every 10 ms: a tighter poll takes the GIL
    from the threads it waits for)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the service did not catch up")
        time.sleep(0.01)
    return time.perf_counter()


def part_end_to_end(backend: Backend, n_reps: int, n_contacts: int, n_visits: int, results: Results) -> None:
    from fastapi.testclient import TestClient

    from crm_es.entrypoints.http.app import create_app

    start = T0
    clock = FrozenClock(start + timedelta(days=30))  # every visit has happened by then
    settings = dataclasses.replace(backend.settings("end_to_end"), run_policies=True)
    services = service(settings, clock=clock)
    try:
        log(f"{backend.name}: part 3, {n_visits:,} visits of {n_contacts:,} contacts, end to end …")
        contacts_ids = people_by_commands(services, n_reps, n_contacts)
        configure(services.store, LeadScoring(), LEAD_SCORING, clock.now())
        items = page_visits(contacts_ids, n_visits + 100, start)
        services.start()
        with TestClient(create_app(services)) as client:
            warm = client.post("/interactions:batch", json={"items": items[:100]})  # caches, prepared statements
            assert warm.status_code == 200, warm.text[:300]
            store = services.store
            wait_for(lambda: live_places(store).get(LeadScoring.name, 0) >= store.max_position())
            time.sleep(1.0)  # the warm-up's reactions projected, the automations idle
            gc.collect()
            before = store.max_position()
            t0 = time.perf_counter()
            answer = client.post("/interactions:batch", json={"items": items[100:]})
            accepted = time.perf_counter()
            assert answer.status_code == 200 and answer.json()["accepted"] == n_visits, answer.text[:300]
            visited = get_topic(PageVisited)
            last = max(r.position for r in read_all(store, before) if r.topic == visited)
            projected = wait_for(lambda: services.projector.position >= last)
            scored = wait_for(lambda: live_places(store).get(LeadScoring.name, 0) >= last)
        [shown] = [p for p in status(store, [LeadScoring()]) if p["name"] == LeadScoring.name]
        assert shown["last_error"] is None, shown
        changed = sum(1 for r in read_all(store, last) if name_of(r.topic) == "LeadScoreChanged")
        total = scored - t0
        results.add(Row("3", backend.name, f"{n_visits:,} tracked page visits (one POST /interactions:batch, in "
                        f"process) accepted, projected and scored by lead scoring, the service's threads running",
                        total, "s", target=f"< {TARGET_END_TO_END:g} s", ok=total < TARGET_END_TO_END,
                        note=f"accepted after {accepted - t0:.2f} s, projected after {projected - t0:.2f} s, "
                             f"scored after {total:.2f} s ({changed:,} score changes)"))
    finally:
        services.close()


# --- part 4: what the automations cost a command ---------------------------------------------


def commands_one_at_a_time(backend: Backend, label: str, policies_on: bool, n: int) -> tuple[float, Any]:
    """Calls logged through HTTP (in process), one at a time, the service's threads running:
    commands/s. Returns the rate and, with the automations on, one round's seconds when
    nothing concerns any policy (the median of 200)."""
    from fastapi.testclient import TestClient

    from crm_es.entrypoints.http.app import create_app

    clock = FrozenClock(T0 + timedelta(days=30))
    settings = dataclasses.replace(backend.settings(label), run_policies=policies_on)
    services = service(settings, clock=clock)
    try:
        [contact_id] = people_by_commands(services, 1, 1)
        configure(services.store, LeadScoring(), LEAD_SCORING, clock.now())
        services.start()
        with TestClient(create_app(services)) as client:
            path, body = f"/contacts/{contact_id}/interactions", {"type": "call", "direction": "outbound"}
            for _ in range(50):  # warm-up
                assert client.post(path, json=body).status_code == 201
            time.sleep(1.0)
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(n):
                client.post(path, json=body)
            seconds = time.perf_counter() - t0
        round_seconds = None
        if policies_on:
            services.stop()  # the background round stopped: the one timed here is alone
            services.policies.run_once()
            rounds = []
            for _ in range(200):
                r0 = time.perf_counter()
                services.automations.round(woken=True)
                rounds.append(time.perf_counter() - r0)
            round_seconds = pct(rounds, 0.5)
        return rate(n, seconds), round_seconds
    finally:
        services.close()


def part_command_cost(backend: Backend, n: int, results: Results) -> None:
    log(f"{backend.name}: part 4, {n:,} commands one at a time, automations on, then off …")
    on, round_seconds = commands_one_at_a_time(backend, "automations_on", True, n)
    off, _ = commands_one_at_a_time(backend, "automations_off", False, n)
    results.add(Row("4", backend.name, f"calls logged one at a time through HTTP (in process, {n:,}), the "
                    "automations running (each save wakes a round; lead scoring on, nothing for it)", on,
                    "commands/s", "the same with CRM_ES_POLICIES=off", off,
                    note=f"a round woken with nothing for any policy: {round_seconds * 1e6:,.0f} µs (median)"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     epilog="Exit status 1 when a figure misses its target, 0 otherwise.")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--interactions", type=int, default=50_000, help="interactions in the log of part 1")
    parser.add_argument("--contacts", type=int, default=3_000, help="contacts they are spread over")
    parser.add_argument("--reps", type=int, default=20, help="reps owning the contacts")
    parser.add_argument("--messages", type=int, default=2_000, help="e-mails delivered in part 2")
    parser.add_argument("--visits", type=int, default=10_000, help="tracked page visits in part 3")
    parser.add_argument("--commands", type=int, default=2_000, help="commands one at a time in part 4")
    parser.add_argument("--parts", default="1,2,3,4", help="which parts to run, e.g. 2")
    parser.add_argument("--profile", action="store_true",
                        help="run the timed parts under cProfile, print the top functions and save them in bench/out/")
    run_options(parser)
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))

    started, t_start = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="crm-es-policies-"))
    results, pg = Results(), None
    try:
        for name in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            backend: Backend = SQLiteBackend(tmp) if name == "sqlite" else PostgresBackend(tmp, args.pg_url)
            pg = backend if isinstance(backend, PostgresBackend) else pg
            try:
                if "1" in parts:
                    part_reactions(backend, tmp, args.reps, args.contacts, args.interactions, results, args.profile)
                if "2" in parts:
                    part_outbox(backend, args.reps, args.messages, results, args.profile)
                if "3" in parts:
                    part_end_to_end(backend, args.reps, args.contacts, args.visits, results)
                if "4" in parts:
                    part_command_cost(backend, args.commands, results)
            finally:
                backend.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish(results, args, machine(pg), started, t_start, script="bench_policies.py")


if __name__ == "__main__":
    sys.exit(main())
